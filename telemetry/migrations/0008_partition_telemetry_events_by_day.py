"""Raw telemetry events partitioned by UTC day on PostgreSQL, keeping every stored event.

PostgreSQL: the plain table is rebuilt as ``PARTITION BY RANGE (occurred_at)``
with one partition per day holding data, one per day of the prepared range
(retention cutoff to TELEMETRY_PARTITIONS_AHEAD_DAYS ahead) and a DEFAULT
partition; the rows are copied, the names swapped, and the indexes, check
and foreign-key constraints recreated under their own names. The id identity
continues where the old one stopped (same sequence name, same next value).
The primary key becomes (id, occurred_at) and the dedup constraint takes
occurred_at: a partitioned table's unique constraints must hold the
partition key. Nothing references this table (checked: the migration stops
if something does). Django's model state keeps ``id`` as the primary key.

Backwards, the partitioned table is rebuilt as a plain one, rows kept.
SQLite: the table stays plain; only the dedup constraint changes.
"""

from datetime import UTC, timedelta

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

TABLE = "telemetry_telemetryevent"
NEW = f"{TABLE}_rebuilt"
DEFAULT_PARTITION = f"{TABLE}_default"
COLUMNS = (
    "id, event_id, identity, environment, kind, occurred_at, received_at, count, is_error, latency_ms, "
    "input_tokens, output_tokens, cost, agent_id, source_id, environment_label"
)


def _bound(day) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def _fetch(cursor, sql, params=None):
    cursor.execute(sql, params or [])
    return cursor.fetchall()


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    """Rebuild the events table as partitioned (or plain again), keeping rows, indexes, constraints
    and the id sequence's position."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        kind = _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])[0][0]
        if (kind == "p") == partitioned:
            return  # already in the wanted shape
        referencing = _fetch(
            cursor,
            "SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE confrelid = %s::regclass",
            [TABLE],
        )
        if referencing:
            raise RuntimeError(f"{TABLE} is referenced by {referencing}; the rebuild would lose those references.")
        cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
        # The parent's own indexes (a partition's are attached to these) and its foreign keys, as SQL.
        indexes = [
            row[0]
            for row in _fetch(
                cursor,
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass AND NOT indisprimary",
                [TABLE],
            )
        ]
        foreign_keys = _fetch(
            cursor,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
        last_value, is_called = _fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608
        like = f'(LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING STORAGE)'
        if partitioned:
            cursor.execute(f'CREATE TABLE "{NEW}" {like} PARTITION BY RANGE (occurred_at)')
            now = timezone.now()
            today = now.astimezone(UTC).date()
            first = (now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)).astimezone(UTC).date()
            ahead = getattr(settings, "TELEMETRY_PARTITIONS_AHEAD_DAYS", 7)
            days = {first + timedelta(days=n) for n in range((today - first).days + ahead + 1)}
            days |= {
                row[0]
                for row in _fetch(cursor, f"SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM \"{TABLE}\"")  # noqa: S608
            }
            cursor.execute(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{NEW}" DEFAULT')
            for day in sorted(days):
                cursor.execute(
                    f'CREATE TABLE "{TABLE}_p{day:%Y%m%d}" PARTITION OF "{NEW}" '
                    f"FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"
                )
        else:
            cursor.execute(f'CREATE TABLE "{NEW}" {like}')
        cursor.execute(f'INSERT INTO "{NEW}" ({COLUMNS}) SELECT {COLUMNS} FROM "{TABLE}"')  # noqa: S608
        # Dropping the old table drops its indexes, constraints, sequence and (backwards) its partitions.
        cursor.execute(f'DROP TABLE "{TABLE}"')
        cursor.execute(f'ALTER TABLE "{NEW}" RENAME TO "{TABLE}"')
        new_sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
        cursor.execute(f"ALTER SEQUENCE {new_sequence} RENAME TO {sequence.split('.')[-1]}")
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, last_value, is_called])
        key = "id, occurred_at" if partitioned else "id"
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY ({key})')
        for definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')


def partition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0007_merge_latency_histogram"),
    ]

    operations = [
        migrations.AlterField(
            model_name="telemetryevent",
            name="event_id",
            field=models.CharField(
                blank=True,
                help_text="The sender's id; the same id sent again with the same time is stored once.",
                max_length=100,
                null=True,
            ),
        ),
        # The dedup constraint goes first (a unique index without the partition key cannot exist on a
        # partitioned table) and comes back with occurred_at, on both databases.
        migrations.RemoveConstraint(model_name="telemetryevent", name="telemetry_event_id_once"),
        migrations.RunPython(partition, unpartition, elidable=False),
        migrations.AddConstraint(
            model_name="telemetryevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(event_id__isnull=False),
                fields=("source", "event_id", "occurred_at"),
                name="telemetry_event_id_once",
            ),
        ),
    ]
