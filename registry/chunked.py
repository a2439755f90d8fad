"""Reading a large queryset a chunk at a time, with or without server-side cursors.

``QuerySet.iterator(chunk_size=...)`` keeps memory flat through a PostgreSQL server-side cursor. Behind
a transaction-pooling PgBouncer (``DATABASE_POOLER``) those are off (``DISABLE_SERVER_SIDE_CURSORS``),
and the same call would then read the whole result into the client before the first row. There the
rows are read by keyset instead: each chunk is its own query for the next ``size`` rows after the last
key read, so a 100,000-row export still holds one chunk at a time. The order column must be unique
(an agent's key, a primary key, the audit sequence). Keyset chunks are separate statements, so a row
written during the read may or may not appear; none appears twice.
"""

from collections.abc import Iterator, Sequence

from django.db import connections
from django.db.models import QuerySet

__all__ = ["in_chunks", "server_side_cursors"]


def server_side_cursors(using: str) -> bool:
    """Whether ``iterator()`` on this alias streams through a server-side cursor."""
    connection = connections[using]
    return connection.vendor == "postgresql" and not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")


def in_chunks(
    queryset: QuerySet, *, by: str, size: int, fields: Sequence[str] | None = None, flat: bool = False
) -> Iterator:
    """The rows of ``queryset`` in ``by`` order (a unique column), read ``size`` rows per round trip.

    With ``fields``: tuples of those values (one value each with ``flat``), as ``values_list`` gives;
    without: model instances.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    ordered = queryset.order_by(by)
    if server_side_cursors(queryset.db) or connections[queryset.db].vendor != "postgresql":
        # One statement: a server-side cursor, or SQLite's own incremental fetch.
        if fields is None:
            yield from ordered.iterator(chunk_size=size)
        else:
            yield from ordered.values_list(*fields, flat=flat).iterator(chunk_size=size)
        return
    last = None
    while True:
        page = ordered if last is None else ordered.filter(**{f"{by}__gt": last})
        if fields is None:
            rows = list(page[:size])
            last = getattr(rows[-1], by) if rows else None
            yield from rows
        else:
            rows = list(page.values_list(by, *fields)[:size])
            last = rows[-1][0] if rows else None
            for row in rows:
                yield row[1] if flat else row[1:]
        if len(rows) < size:
            return
