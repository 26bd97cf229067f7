"""What WeasyPrint may read while it renders a PDF: the app's own static files, nothing else.

WeasyPrint's default fetcher follows any URL in the HTML or CSS: ``file:`` (any file the process
can read), ``http(s):`` (any host, redirects included), ``ftp:``. Our PDFs are rendered from our
templates, but they show organisers' and participants' text, so one escaping mistake would let a
title read ``/etc/passwd`` into a PDF or make the server call an internal address. Every render
goes through :func:`url_fetcher`, which serves ``data:`` URIs (the report's SVG charts) and files
under ``static/`` only, never follows a redirect, and refuses everything else (WeasyPrint logs a
warning and leaves the image out).

Speed (issue 19): :func:`render` renders with one ``FontConfiguration`` per process (per thread),
so the fonts found and loaded for one PDF serve the next, and with stylesheets parsed once per
process (:func:`stylesheet`); :func:`warm_up` loads WeasyPrint, Pango and the region's fonts at
worker start, so a new process's first PDF does not pay for them.

Garbage collection (issue 19): a render allocates hundreds of thousands of objects that live until
it ends (boxes, styles, Pango layouts), so CPython's full collections, which walk every object of
the process, ran two to seven times inside one activity report and once every few agendas, each
as long as a whole agenda render in a worker's heap (they showed as "the style cascade" in the
profiles). :func:`render` holds full collections off while it renders (the young generations are
still collected), and :func:`warm_up` freezes the objects of the process's start (``gc.freeze``)
so that the full collections which do run walk only what came later.
"""

from __future__ import annotations

import gc
import logging
import mimetypes
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app

ALLOWED_HOSTS = ("", "localhost")

# WeasyPrint reports each step of every render at INFO ("Step 2 - Fetching and parsing CSS") and
# fontTools each font subset: noise in the commands' output and the worker's console. Warnings
# (a refused URL, a missing font) still show.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def static_root() -> Path:
    return Path(current_app.static_folder or "static").resolve()


def base_url() -> str:
    """The base URL for relative references in a PDF template: the static folder."""
    return static_root().as_uri() + "/"


def static_file(url: str, root: Path) -> Path | None:
    """The file a ``file:`` URL names, when it is a file under ``root``; else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc.lower() not in ALLOWED_HOSTS:
        return None
    try:
        path = Path(url2pathname(parts.path)).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def url_fetcher():
    """A WeasyPrint URL fetcher that reads ``data:`` URIs and files under ``static/`` only."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = static_root()

    class StaticFilesFetcher(URLFetcher):
        def __init__(self):
            # urllib serves the data: URIs; no other protocol and no redirects.
            super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=5)

        def fetch(self, url, headers=None):
            if url[:5].lower() == "data:":
                return super().fetch(url, headers)
            path = static_file(url, root)
            if path is None:
                raise ValueError(f"Not fetched (only the app's static files are): {url[:200]}")
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mimetype})

    return StaticFilesFetcher()


_local = threading.local()


_SIZED_ARRAY = re.compile(r"^(hb_codepoint_t)\[(\d+)\]$")


def _arrays_without_new_types() -> None:
    """WeasyPrint 70 subsets each font with ``ffi.new(f"hb_codepoint_t[{n}]", values)``: every new
    ``n`` (the number of glyphs a PDF uses, per font) is a new C type that cffi parses with
    pycparser (10-15 ms) and keeps for ever, so a PDF of new content pays 40-100 ms for its 4-8
    sizes and a long-running worker keeps growing the cache. ``ffi.new("hb_codepoint_t[]", values)``
    makes the same array (n items, initialised with the values) with one type parsed once."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint.text.ffi import ffi

    if getattr(ffi, "_webinar_mgr_arrays", False):
        return
    new = ffi.new

    def new_array(cdecl, init=None):
        if isinstance(cdecl, str) and init is not None:
            sized = _SIZED_ARRAY.match(cdecl)
            if sized and len(init) == int(sized.group(2)):
                return new(f"{sized.group(1)}[]", init)
        return new(cdecl, init)

    ffi.new = new_array
    ffi._webinar_mgr_arrays = True


def font_config():
    """This thread's WeasyPrint ``FontConfiguration``, made once: fonts already found and loaded
    (Pango's font map) are reused by every PDF instead of being looked up again."""
    config = getattr(_local, "font_config", None)
    if config is None:
        # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
        from weasyprint.text.fonts import FontConfiguration

        _arrays_without_new_types()
        config = _local.font_config = FontConfiguration()
    return config


@lru_cache(maxsize=32)
def _parsed(path: str, mtime: float, replacements: tuple):
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint import CSS

    text = Path(path).read_text(encoding="utf-8")
    for old, new in replacements:
        text = text.replace(old, new)
    return CSS(string=text, base_url=Path(path).parent.as_uri() + "/", font_config=font_config())


def stylesheet(path: Path, **replacements: str):
    """The WeasyPrint stylesheet of a CSS file, parsed once per process (again when the file
    changes); ``replacements``: placeholders in the file and their text."""
    return _parsed(str(path), path.stat().st_mtime, tuple(sorted(replacements.items())))


_gc_lock = threading.Lock()
_gc_holds = {"renders": 0, "threshold": None}
# The oldest generation's threshold while a render runs: in effect never reached.
NO_FULL_COLLECTION = 1 << 30


def _hold_full_collections() -> None:
    with _gc_lock:
        if _gc_holds["renders"] == 0:
            young, middle, oldest = _gc_holds["threshold"] = gc.get_threshold()
            gc.set_threshold(young, middle, NO_FULL_COLLECTION)
        _gc_holds["renders"] += 1


def _release_full_collections() -> None:
    with _gc_lock:
        _gc_holds["renders"] -= 1
        if _gc_holds["renders"] == 0:
            gc.set_threshold(*_gc_holds["threshold"])


def render(html: str, *, stylesheets=()) -> bytes:
    """A PDF of ``html`` (fetching only the app's static files), with the process's fonts; no full
    garbage collection while it renders (the module's docstring)."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint import HTML

    _hold_full_collections()
    try:
        document = HTML(string=html, base_url=base_url(), url_fetcher=url_fetcher())
        return document.write_pdf(stylesheets=list(stylesheets), font_config=font_config())
    finally:
        _release_full_collections()


# One line in each script of the region (Latin with Vietnamese, Thai, Khmer, Myanmar, Lao, Chinese,
# Japanese, Korean), regular and bold, in a fixed-layout table: what the PDFs print.
WARM_UP_TEXT = "Agenda buôn bán người การค้ามนุษย์ ការជួញដូរមនុស្ស လူကုန်ကူးမှု ການຄ້າມະນຸດ 人口贩运 人身売買 인신매매"
WARM_UP_HTML = (
    "<html><body style=\"font-family: 'Noto Sans', 'Noto Sans Thai', 'Noto Sans Khmer', 'Noto Sans Myanmar', "
    "'Noto Sans Lao', 'Noto Sans CJK SC', 'Noto Sans CJK JP', 'Noto Sans CJK KR', sans-serif; font-size: 10pt\">"
    f'<table style="table-layout: fixed; width: 100%"><tr><td>09:00–09:20</td><td><b>{WARM_UP_TEXT}</b> '
    f"{WARM_UP_TEXT}</td></tr></table></body></html>"
)


_warm_ups: list[Callable[[], None]] = []


def on_warm_up(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` for :func:`warm_up` (a module's PDF templates compiled and stylesheets
    parsed, its fonts loaded at the sizes it prints them)."""
    _warm_ups.append(fn)
    return fn


def warm_up() -> None:
    """Load WeasyPrint and render one tiny PDF in the region's fonts (a second or two in a new
    process), configure SQLAlchemy's mappers (the first query of a process otherwise does, for
    60-180 ms) and run the modules' warm-ups (:func:`on_warm_up`), so that the first PDF a worker
    serves is not the one paying for them; then freezes what the process has loaded (the module's
    docstring). Called in the app context at worker start when PDF_WARM_UP is set (production)."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint import HTML

    sa.orm.configure_mappers()
    HTML(string=WARM_UP_HTML).write_pdf(font_config=font_config())
    for fn in _warm_ups:
        fn()
    # The app, its libraries and the fonts stay for the process's life: full collections need not
    # walk them again (what is garbage among them goes first).
    gc.collect()
    gc.freeze()
