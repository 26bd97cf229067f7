"""Speakers' photos (issue 15): read at most SPEAKER_PHOTO_MAX_BYTES, opened as an image by its
content (never its name or declared type), turned upright, resized to at most 480 px and written
again as a JPEG under SPEAKER_PHOTOS_DIR with a random name: what is served is an image the app
wrote itself, without the uploader's metadata (EXIF, GPS) or anything else the file carried."""

from __future__ import annotations

import base64
import contextlib
import io
import secrets
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from webinar_mgr.errors import ValidationFailed

SIZE = 480  # the longer side, in pixels
FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
MAX_PIXELS = 40_000_000  # a "decompression bomb" (a small file of a huge image) is refused


def photos_dir() -> Path:
    path = Path(
        current_app.config.get("SPEAKER_PHOTOS_DIR") or Path(current_app.config["INSTANCE_DIR"]) / "speaker-photos"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(current_app.config.get("SPEAKER_PHOTO_MAX_BYTES") or 5 * 1024 * 1024)


def path_of(name: str) -> Path:
    """The stored photo's path; the name is ours (hex + ".jpg"), never the uploader's."""
    if not name or not name.endswith(".jpg") or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError("not a stored photo name")
    return photos_dir() / name


def _refuse(message: str):
    raise ValidationFailed(message, field_errors={"photo": [message]})


def store(stream) -> str:
    """Check, resize and keep an uploaded photo; its stored name. ValidationFailed (field "photo")
    for a file that is too large or not a photo."""
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        _refuse(_("The photo is larger than %(mb)s MB: choose a smaller one.", mb=round(limit / 1_048_576, 1)))
    if not data:
        _refuse(_("The photo file is empty."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                _refuse(_("This is not a photo: use a JPEG, PNG, WebP or GIF image."))
            if image.width * image.height > MAX_PIXELS:
                _refuse(_("The image is too large (%(w)d × %(h)d pixels).", w=image.width, h=image.height))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.split()[-1])
                image = background
            image.thumbnail((SIZE, SIZE))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        _refuse(_("This is not a photo: use a JPEG, PNG, WebP or GIF image."))
    name = secrets.token_hex(16) + ".jpg"
    path_of(name).write_bytes(out.getvalue())
    return name


def remove(name: str | None) -> None:
    """Delete a stored photo (a missing file is no error)."""
    if name:
        with contextlib.suppress(ValueError):  # not one of our names: nothing of ours to delete
            path_of(name).unlink(missing_ok=True)


def data_uri(name: str | None) -> str | None:
    """The photo as a ``data:`` URI, for the agenda PDF (whose renderer reads no other files)."""
    if not name:
        return None
    try:
        return "data:image/jpeg;base64," + base64.b64encode(path_of(name).read_bytes()).decode()
    except (OSError, ValueError):
        return None


def duplicate(name: str | None) -> str | None:
    """A copy of a stored photo under a new name (a copied event's speakers own their files)."""
    if not name:
        return None
    try:
        data = path_of(name).read_bytes()
    except (OSError, ValueError):
        return None
    new = secrets.token_hex(16) + ".jpg"
    path_of(new).write_bytes(data)
    return new
