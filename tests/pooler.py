"""The test run behind PgBouncer (``DATABASE_POOLER=pgbouncer``, phase 3 of scripts/test.sh).

pytest-django creates and drops its test database through the same URL as the tests, so through the
pooler too (its wildcard database entry passes any name through). Creating works as it is; dropping
does not, because PgBouncer keeps the server connections the tests used open and idle in its pool,
and PostgreSQL refuses to drop a database somebody is connected to. So before the test database is
dropped, its pool is closed through PgBouncer's admin console (``KILL``, then ``RESUME`` so the name
can be used again). Without a declared pooler nothing changes. Registered through pytest_plugins in
tests/conftest.py.
"""

import psycopg
import pytest


def admin_console(settings_dict: dict) -> psycopg.Connection:
    """PgBouncer's admin console on the host and port a Django database alias connects to.

    The console speaks only the simple query protocol: a client-side binding cursor uses it.
    """
    return psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 6432,
        user=settings_dict["USER"] or "postgres",
        password=settings_dict["PASSWORD"] or None,
        dbname="pgbouncer",
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,
        connect_timeout=5,
    )


def console_rows(conn: psycopg.Connection, command: str) -> list[dict]:
    """A ``SHOW`` command's rows as dicts keyed by column name."""
    cursor = conn.execute(command)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def release_database(settings_dict: dict, name: str) -> None:
    """Close every connection PgBouncer holds to database ``name`` (it may hold none)."""
    with admin_console(settings_dict) as console:
        try:
            console.execute(f'KILL "{name}"')
        except psycopg.Error:
            return  # the pooler never opened that database
        console.execute(f'RESUME "{name}"')


@pytest.fixture(scope="session", autouse=True)
def _drop_test_database_past_the_pooler():
    from django.conf import settings
    from django.db.backends.postgresql.creation import DatabaseCreation

    if not getattr(settings, "DATABASE_POOLER", ""):
        yield
        return
    original = DatabaseCreation._destroy_test_db

    def destroy(self, test_database_name, verbosity):
        release_database(self.connection.settings_dict, test_database_name)
        return original(self, test_database_name, verbosity)

    DatabaseCreation._destroy_test_db = destroy
    yield
    DatabaseCreation._destroy_test_db = original
