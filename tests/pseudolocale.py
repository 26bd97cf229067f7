"""The pseudo-locale walk's machinery, shared by tests/test_translations.py and the modules' own
walks (tests/test_workplan.py): a catalogue whose every entry is its English source wrapped in
⟦ ⟧, and a reader of rendered pages that finds visible English outside those marks (a plain
module, not a test module)."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from webinar_mgr import i18n

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "webinar_mgr" / "translations"


def extract_messages(directory: Path) -> Catalog:
    """The messages of the source as it is now (templates, code, forms' lazy labels), extracted as
    `make translations` does: not the committed messages.pot, which may lag behind the code."""
    pot = directory / "current.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        return read_po(f)


# The pseudo-locale walk ------------------------------------------------------------------------

OPEN, CLOSE = "⟦", "⟧"
# Names, products and codes that stay as they are in every language.
KEPT = {
    "UTC", "GMT", "CSV", "XLSX", "PDF", "ICS", "iCalendar", "Zoom", "Teams", "Webex", "API", "URL", "OK",
    "Bali", "Process", "English", "Bahasa", "Indonesia", "Ti", "ng", "Vi", "t", "min", "h",
    "https", "http", "www", "org", "example", "com",
}  # fmt: skip
# Time zone identifiers (Asia/Bangkok) are data.
ZONE = re.compile(r"\b[A-Z][A-Za-z_]+/[A-Za-z_/+-]+\b")
# An address, with the role code the audit's stored summaries put after it ("a@b.org (organiser)").
EMAIL = re.compile(r"\S+@\S+(?: \([a-z_]+\))?")
URLISH = re.compile(r"\b\w+://\S+|/[\w./?=&%-]+")
# Codes are data: ISO country codes (TH), identifiers (annual_meeting).
CODE = re.compile(r"\b[A-Z]{2}\b|\b[a-z]+(?:_[a-z]+)+\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")


def pseudo_catalogue(directory: Path, lang: str = "th") -> int:
    """Extract the messages from the source now and write a catalogue whose every entry is its
    source wrapped in ⟦ ⟧ (placeholders kept), as ``lang``; returns the number of messages."""
    template = extract_messages(directory)
    catalog = Catalog(locale=lang)
    for m in template:
        if not m.id:
            continue
        if isinstance(m.id, (list, tuple)):
            catalog.add(tuple(m.id), (OPEN + m.id[1] + CLOSE,), flags=m.flags)
        else:
            catalog.add(m.id, OPEN + m.id + CLOSE, flags=m.flags)
    po = directory / lang / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    with po.open("wb") as f:
        write_po(f, catalog)
    return len(catalog)


class _Visible(HTMLParser):
    """The text a reader sees or hears: text nodes (not script/style) and the attributes read out
    (placeholder, title, aria-label, alt, the value of buttons)."""

    SKIP = {"script", "style", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        attrs = dict(attrs)
        for name in ("placeholder", "title", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.parts.append(data)


def _strip_translated(text: str) -> str:
    previous = None
    while previous != text:  # innermost first: a translated label inside a translated sentence
        previous = text
        text = re.sub(OPEN + "[^" + OPEN + CLOSE + "]*" + CLOSE, " ", text)
    return text


def english_outside_catalogue(html: str, data_words: set[str]) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    # One text: a message may hold markup (<code>, <a>), which splits it into several parts.
    text = _strip_translated("\n".join(" ".join(p.split()) for p in parser.parts))
    found = []
    for line in text.split("\n"):
        rest = CODE.sub(" ", EMAIL.sub(" ", URLISH.sub(" ", ZONE.sub(" ", line))))
        words = [w for w in WORD.findall(rest) if w not in KEPT and w.lower() not in data_words]
        if words:
            found.append(line.strip()[:120])
    return found


@pytest.fixture
def pseudo(app, tmp_path):
    count = pseudo_catalogue(tmp_path)
    assert count > 500
    i18n.compile_catalogues(tmp_path, force=True)
    cfg = app.extensions["babel"]
    cfg.translation_directories = [str(tmp_path)]
    cfg.instance.domain_instance.cache.clear()
    yield
    cfg.translation_directories = [str(TRANSLATIONS)]
    cfg.instance.domain_instance.cache.clear()
