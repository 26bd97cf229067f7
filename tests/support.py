"""Helpers shared by tests and the bench scripts (a plain module, not a test module)."""

from __future__ import annotations

import sqlalchemy as sa


class QueryCounter:
    """Count the SQL statements an engine runs inside a ``with`` block."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1

    def __enter__(self) -> QueryCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
