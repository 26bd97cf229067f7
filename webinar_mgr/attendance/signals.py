"""The attendance module's signals, for modules above it (the API's webhooks).

``attendance_imported``  sender = the AttendanceImport, flushed; sent inside the unit of work of
                         the import (merge or replace), so a receiver writes into the same
                         transaction.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

attendance_imported = _signals.signal("attendance-imported")
