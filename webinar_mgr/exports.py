"""Exports: the one way to hand rows of personal or review data to a spreadsheet.

A service builds the rows and calls :func:`export`, which writes the audit entry (who exported
what, in which format, how many rows) in its own unit of work and returns the file (CSV in UTF-8
with a BOM, or XLSX; both neutralise formula cells). The view answers with :func:`response`.
Every export is audited the same way, wherever it lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask_babel import gettext as _

from . import csvio
from .audit import services as audit
from .errors import ValidationFailed
from .persistence import unit_of_work

FORMATS = {
    "csv": "text/csv",  # Flask adds "; charset=utf-8"
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    mimetype: str
    filename: str


def export(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    fmt: str,
    name: str,
    action: str,
    actor,
    obj: Any = None,
    object_type: str | None = None,
    sheet: str | None = None,
) -> ExportFile:
    """The file ``name.csv`` or ``name.xlsx`` with the rows, audited as ``action``."""
    if fmt not in FORMATS:
        raise ValidationFailed(_("Unknown export format: choose CSV or XLSX."))
    rows = list(rows)
    with unit_of_work():
        audit.record(actor, action, obj, object_type=object_type, summary=f"{fmt} · {len(rows)} rows")
    if fmt == "xlsx":
        body = csvio.to_xlsx(header, rows, sheet=(sheet or name)[:31])
    else:
        body = csvio.to_csv(header, rows)
    return ExportFile(body=body, mimetype=FORMATS[fmt], filename=f"{name}.{fmt}")


def response(file: ExportFile) -> Response:
    """The download, never cached by a shared proxy (exports hold personal data)."""
    return Response(
        file.body,
        mimetype=file.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "private, no-store",
        },
    )
