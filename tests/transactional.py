"""Lets tests that need real commits (``transactional_db``: live_server, Celery integration) run on PostgreSQL.

Such tests end by flushing every table with TRUNCATE, and the audit table's
append-only trigger (registry migration 0002) refuses TRUNCATE, as it should
everywhere else. Only the flush itself runs with
``session_replication_role = replica``, which skips ordinary triggers, for
that one transaction. Registered through pytest_plugins in tests/conftest.py.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _flush_past_audit_trigger():
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        # Django runs the flush statements in one transaction, so SET LOCAL ends with it.
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else statements

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original
