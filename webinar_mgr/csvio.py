"""Reading uploaded CSV files defensively, and writing CSV/XLSX exports safely.

Reading: size limit, binary detection, encoding (UTF-8 with or without BOM, UTF-16 with BOM, the
region's legacy encodings detected by charset-normalizer among a fixed list, or the one the
organiser chose), dialect from
:class:`csv.Sniffer` (comma, semicolon, tab). Writing: every cell that a spreadsheet would
read as a formula (= + - @, tab, carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes
from flask_babel import gettext as _

from webinar_mgr.errors import ValidationFailed

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class CsvProblem(ValidationFailed):
    """The file as a whole cannot be read (size, binary, encoding, no header)."""


@dataclass
class CsvTable:
    header: list[str]
    rows: list[dict[str, str]]  # keyed by the normalised header (see :func:`norm`)
    line_numbers: list[int]  # the file's line number of each row (header = line 1)
    encoding: str
    delimiter: str


def norm(name: str) -> str:
    """Normalise a header: lower case, spaces and dashes to underscores."""
    return "_".join((name or "").strip().lower().replace("-", " ").split())


# The legacy encodings of the region's spreadsheets, as Excel's "CSV" (not "CSV UTF-8") writes them
# on a Thai, Vietnamese, Chinese, Korean or Japanese Windows; the organiser can also choose one in
# the preview. TIS-620 is the subset of Windows-874 without its extra punctuation, so cp874 reads
# both; CP949 is the superset of EUC-KR that Windows writes.
LEGACY_ENCODINGS = ("cp874", "cp1258", "gb18030", "big5", "cp949", "cp932", "cp1252")
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "cp874": "Windows-874 / TIS-620",
    "cp1258": "Windows-1258",
    "gb18030": "GB18030 / GBK",
    "big5": "Big5",
    "cp949": "CP949 / EUC-KR",
    "cp932": "Shift_JIS / CP932",
    "cp1252": "Windows-1252",
}


def encoding_choices() -> list[tuple[str, str]]:
    """(codec, label) for the preview's "read the file as" list, in the region's terms."""
    labels = {
        "utf-8": _("Unicode (UTF-8)"),
        "utf-16": _("Unicode (UTF-16)"),
        "cp874": _("Thai (Windows-874 / TIS-620)"),
        "cp1258": _("Vietnamese (Windows-1258)"),
        "gb18030": _("Chinese, Simplified (GB18030 / GBK)"),
        "big5": _("Chinese, Traditional (Big5)"),
        "cp949": _("Korean (CP949 / EUC-KR)"),
        "cp932": _("Japanese (Shift_JIS / CP932)"),
        "cp1252": _("Western European (Windows-1252)"),
    }
    return list(labels.items())


def encoding_name(codec: str) -> str:
    return ENCODING_NAMES.get(codec, codec.upper())


def _guess_legacy(data: bytes) -> str | None:
    """The region's legacy encoding that reads ``data`` as coherent text, or None."""
    try:
        best = from_bytes(data[:262144], cp_isolation=list(LEGACY_ENCODINGS)).best()
    except Exception:  # a guess is only a guess: no guess
        return None
    if best is None:
        return None
    codec = codecs.lookup(best.encoding).name  # "euc_kr" and "cp949" both come back as their codec
    return {"euc_kr": "cp949", "tis_620": "cp874", "gbk": "gb18030", "gb2312": "gb18030"}.get(codec, codec)


def _decode_as(data: bytes, codec: str) -> str:
    text = data.decode(codec)
    if text.startswith("\ufeff"):
        text = text[1:]
    # Windows-1258 writes Vietnamese tones as combining marks: compose them, so that "Nguyễn"
    # from the file equals "Nguyễn" typed on a page.
    return unicodedata.normalize("NFC", text)


def decode(data: bytes, *, max_bytes: int | None = None, encoding: str | None = None) -> tuple[str, str]:
    """Bytes -> (text, codec), or :class:`CsvProblem` naming what is wrong.

    UTF-8 (with or without BOM) and UTF-16 with BOM are read as such; anything else is read in the
    region's legacy encoding it coherently decodes in (see :data:`LEGACY_ENCODINGS`), and the
    preview names the encoding it used. ``encoding`` (one of :func:`encoding_choices`) forces one.
    """
    if max_bytes is not None and len(data) > max_bytes:
        # Only the limit: callers read at most max_bytes + 1 bytes of an upload, so the length of
        # ``data`` is not the file's size (a 19 MB file would be reported as 5.0 MB).
        raise CsvProblem(_("The file is too large: the limit is %(limit)s MB.", limit=round(max_bytes / 1_048_576, 1)))
    if not data.strip():
        raise CsvProblem(_("The file is empty."))
    if encoding:
        if encoding not in ENCODING_NAMES:
            raise CsvProblem(_("Unknown encoding: choose one from the list."))
        try:
            return _decode_as(data, encoding), encoding
        except UnicodeDecodeError as exc:
            raise CsvProblem(
                _(
                    "The file cannot be read as %(encoding)s (first bad byte on line %(line)d): choose another "
                    "encoding.",
                    encoding=encoding_name(encoding),
                    line=data[: exc.start].count(b"\n") + 1,
                )
            ) from None
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CsvProblem(_("The file says it is UTF-16 but is not readable as UTF-16.")) from None
    if b"\x00" in data[:4096]:
        raise CsvProblem(_("This is not a text (CSV) file: it contains binary data."))
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
    guess = _guess_legacy(data)
    if guess:
        try:
            return _decode_as(data, guess), guess
        except UnicodeDecodeError:
            pass  # the guess read the sample, not the whole file
    raise CsvProblem(
        _(
            "Wrong encoding: the file is not UTF-8 (first bad byte on line %(line)d) and not in one of the "
            'region\'s usual encodings. Save it as "CSV UTF-8" and upload it again, or choose its encoding.',
            line=line,
        )
    )


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:16384]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def read_table(
    data: bytes,
    *,
    required: Sequence[str] = (),
    aliases: dict[str, str] | None = None,
    max_bytes: int | None = None,
    max_rows: int = 50_000,
    encoding: str | None = None,
) -> CsvTable:
    """Parse a CSV upload with a header row into dicts keyed by normalised header names.

    ``aliases`` maps other header spellings (normalised) to the canonical name.
    """
    text, encoding = decode(data, max_bytes=max_bytes, encoding=encoding)
    dialect = sniff_dialect(text)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        raw_header = next(reader)
    except StopIteration:
        raise CsvProblem(_("The file has no header row.")) from None
    except csv.Error as exc:
        raise CsvProblem(_("The file is not valid CSV: %(error)s", error=str(exc))) from None
    aliases = aliases or {}
    header = [aliases.get(norm(h), norm(h)) for h in raw_header]
    missing = [r for r in required if r not in header]
    if missing:
        raise CsvProblem(
            _("Missing column(s): %(cols)s. The first line must name the columns.", cols=", ".join(missing))
        )
    rows, lines = [], []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= max_rows:
                raise CsvProblem(_("Too many rows: the limit is %(n)d.", n=max_rows))
            row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header) if h}
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise CsvProblem(
            _("The file is not valid CSV near line %(line)d: %(error)s", line=reader.line_num, error=str(exc))
        ) from None
    delimiter = getattr(dialect, "delimiter", ",")
    return CsvTable(header=header, rows=rows, line_numbers=lines, encoding=encoding, delimiter=delimiter)


# Writing -----------------------------------------------------------------------------------


def neutralise(value) -> object:
    """Make a cell safe from formula injection (CSV and XLSX)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise(value) if isinstance(value, str) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with BOM (so Excel reads non-Latin names right), comma-separated, CRLF."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str = "Sheet1") -> bytes:
    # import here: openpyxl is heavy and only XLSX exports need it (loaded on the first one)
    from openpyxl import Workbook
    from openpyxl.styles import Font  # import here: as above

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = sheet[:31]
    ws.append([str(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        out = []
        for v in row:
            v = _cell(v)
            if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
                v = v.replace(tzinfo=None)  # Excel has no zones; exports state UTC in the header
            out.append(v)
        ws.append(out)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
