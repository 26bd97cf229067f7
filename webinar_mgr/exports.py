"""Exports: the one way to hand rows of personal or review data to a spreadsheet.

A service builds the rows and calls :func:`export`, which writes the audit entry (who exported
what, in which format, how many rows) in its own unit of work and returns the file (CSV in UTF-8
with a BOM, or XLSX; both neutralise formula cells). The view answers with :func:`response`.
Every export is audited the same way, wherever it lives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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
            "Content-Disposition": content_disposition(file.filename),
            "Cache-Control": "private, no-store",
        },
    )


# File names of downloads ------------------------------------------------------------------------

_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?<>|\u2028\u2029]+")
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9 '._()\-]+")
_RFC5987_SAFE = "!#$&+-.^_`|~"  # attr-char besides letters and digits (RFC 5987 section 3.2.1)
NAME_MAX = 120  # characters before the extension: long titles make long names, cut them


def _split(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,5}", ext):
        return name, ""
    return stem, "." + ext


def safe_filename(name: str, *, fallback: str = "download") -> str:
    """``name`` as a file name any system accepts: one line, no path, no reserved characters
    (double quotes become single ones, the others spaces), no leading dots, at most NAME_MAX
    characters before the extension. Letters of any script stay."""
    stem, ext = _split(unicodedata.normalize("NFC", str(name)))
    stem = _UNSAFE_IN_NAME.sub(" ", stem.replace('"', "'"))
    stem = " ".join(stem.split()).strip(" .;")[:NAME_MAX].strip(" .")
    return (stem or fallback) + ext


def ascii_filename(name: str, *, fallback: str = "download") -> str:
    """The ASCII fallback for clients that do not read ``filename*``: accents dropped, other
    letters and signs left out; ``fallback`` when no letter or digit is left (a title all in Thai)."""
    stem, ext = _split(safe_filename(name, fallback=fallback))
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    plain = _NOT_ASCII_SAFE.sub(" ", plain)
    plain = " ".join(plain.split()).strip(" ._")
    if not re.search(r"[A-Za-z0-9]", plain):
        plain = fallback
    return plain + ext


def content_disposition(filename: str, *, inline: bool = False, fallback: str = "download") -> str:
    """The ``Content-Disposition`` of a download, safe for any file name (an event's title with
    quotes, line breaks, ``;`` or Thai): RFC 6266 with an ASCII ``filename`` and the UTF-8
    ``filename*`` of RFC 5987, which browsers prefer."""
    name = safe_filename(filename, fallback=fallback)
    disposition = "inline" if inline else "attachment"
    plain = ascii_filename(name, fallback=fallback)
    header = f'{disposition}; filename="{plain}"'
    if plain != name:
        header += f"; filename*=UTF-8''{quote(name, safe=_RFC5987_SAFE)}"
    return header
