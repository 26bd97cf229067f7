"""The outputs' files: stored under OUTPUTS_DIR with a random name, size-limited while they are
read (OUTPUTS_MAX_BYTES), their type found from their content (never from their name):
PDF, DOCX, PPTX, XLSX (Office Open XML, macro-free), PNG and JPEG.

``store(stream, filename)`` writes the upload to a temporary file next to its final place, checks
it and moves it there in one rename, or removes it and raises ValidationFailed: a refused upload
leaves no file. The caller removes the stored file again when its transaction fails
(``services.add_version``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _

from webinar_mgr.errors import ValidationFailed

CHUNK = 1024 * 1024

# type -> (Content-Type, extension, the name people know it by)
TYPES = {
    "pdf": ("application/pdf", ".pdf", "PDF"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", "Word (DOCX)"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx", "PowerPoint (PPTX)"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", "Excel (XLSX)"),
    "png": ("image/png", ".png", "PNG"),
    "jpeg": ("image/jpeg", ".jpg", "JPEG"),
}
# The main part an Office Open XML package declares in [Content_Types].xml (macro-enabled
# documents declare another type and are refused).
_OOXML_MAIN = {
    "docx": b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "pptx": b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "xlsx": b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}
_CONTENT_TYPES_MAX = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    content_type: str
    size: int
    sha256: str


def outputs_dir() -> Path:
    path = Path(current_app.config.get("OUTPUTS_DIR") or Path(current_app.config["INSTANCE_DIR"]) / "outputs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(current_app.config.get("OUTPUTS_MAX_BYTES") or 25 * 1024 * 1024)


def allowed_names() -> str:
    return ", ".join(name for _ct, _ext, name in TYPES.values())


def path_of(stored_name: str) -> Path:
    """The stored file's path; the name is ours (hex and an extension), never the uploader's."""
    if not stored_name or "/" in stored_name or "\\" in stored_name or stored_name.startswith("."):
        raise ValueError("not a stored name")
    return outputs_dir() / stored_name


def sniff(path: Path) -> str | None:
    """The file's type (a key of TYPES) from its content, or None when it is none of them."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_kind(path)
    return None


def _ooxml_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX:
                return None
            declared = zf.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError, ValueError):
        # a broken, encrypted (RuntimeError) or oddly compressed (NotImplementedError: a method
        # zipfile cannot read) archive is no document we accept: refused as an unknown type
        return None
    for kind, main in _OOXML_MAIN.items():
        if main in declared:
            return kind
    return None


def store(stream: BinaryIO, filename: str) -> StoredFile:
    """Read ``stream`` (at most OUTPUTS_MAX_BYTES), check its type, keep it under OUTPUTS_DIR.
    Raises ValidationFailed (field ``file``) for an empty file, one over the limit or one of a type
    not allowed; nothing is left behind then."""
    limit = max_bytes()
    folder = outputs_dir()
    tmp = folder / f".upload-{secrets.token_hex(12)}"
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(
                        _(
                            "The file is larger than the limit of %(limit)s MB.",
                            limit=f"{limit / 1_048_576:.0f}",
                        ),
                        field_errors={"file": [_("At most %(limit)s MB.", limit=f"{limit / 1_048_576:.0f}")]},
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationFailed(_("The file is empty."), field_errors={"file": [_("The file is empty.")]})
        kind = sniff(tmp)
        if kind is None:
            msg = _(
                "“%(name)s” is not a file of a type allowed here (%(types)s): its content was checked, not its name.",
                name=filename or "",
                types=allowed_names(),
            )
            raise ValidationFailed(msg, field_errors={"file": [msg]})
        content_type, ext, _name = TYPES[kind]
        stored_name = secrets.token_hex(16) + ext
        os.replace(tmp, folder / stored_name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredFile(stored_name=stored_name, content_type=content_type, size=size, sha256=digest.hexdigest())


def remove(stored_name: str | None) -> None:
    """Delete a stored file (no error when it is already gone)."""
    if stored_name:
        path_of(stored_name).unlink(missing_ok=True)
