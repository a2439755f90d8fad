"""``flushable_audit``: lets one transactional test end on PostgreSQL despite the audit table's TRUNCATE trigger.

Tests with real commits end by flushing every table with TRUNCATE, which the
append-only trigger refuses, as it should everywhere else. Only the flush
statements themselves run with ``session_replication_role = replica`` (SET
LOCAL: it ends with the flush's own transaction). Import the fixture into a
test module to use it; a project-wide plugin may do the same for every test.
"""

import pytest


@pytest.fixture
def flushable_audit():
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else statements

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original
