"""Cleaning what people type, on the way in: the one place that decides which characters a
stored name, title or free text may hold.

Control characters (a carriage return pasted into an event title, a NUL from a broken file, the
Unicode line and paragraph separators) have no place in a one-line value: they break mail headers,
calendar entries and CSV files downstream. ``single_line`` removes them and collapses the white
space they leave; ``multi_line`` keeps line breaks (as ``\\n``) and removes the rest.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0]+")


def single_line(value: str | None) -> str:
    """One line: controls become spaces, runs of spaces one space, NFC, stripped."""
    text = unicodedata.normalize("NFC", value or "")
    return _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()


def multi_line(value: str | None) -> str:
    """Free text: line breaks kept as \\n (CR LF and CR too), other controls removed, NFC, stripped."""
    text = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS_BUT_NEWLINE.sub("", text).strip()


def has_controls(value: str | None) -> bool:
    """True when a one-line value holds a control character (for validators that refuse, not clean)."""
    return bool(_CONTROLS.search(value or ""))


_BLANK_LINES = re.compile(r"\n\s*\n")


def paragraphs(value: str | None) -> Markup:
    """Free text as the person wrote it, in HTML: a blank line starts a new paragraph, a single line
    break stays a line break; everything escaped (the ``paragraphs`` template filter)."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return Markup("")
    parts = [p.strip("\n") for p in _BLANK_LINES.split(text) if p.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(Markup("<br>\n").join(p.split("\n"))) for p in parts)
