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
worker start, so a new process's first PDF does not pay for them. CID-keyed CFF fonts (Noto Sans
CJK) are embedded as subsets of the glyphs used, not as long as the whole font's numbering
(:func:`_compact_cid_font_subsets`), and fonts read their files in place rather than copying them
per PDF (:func:`_font_files_not_copied`).

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


def _cff_index(data, pos: int) -> tuple[list[tuple[int, int]], int]:
    """A CFF INDEX at ``pos``: its items' (start, end) offsets and the offset after it."""
    count = int.from_bytes(data[pos : pos + 2], "big")
    if count == 0:
        return [], pos + 2
    size = data[pos + 2]
    first = pos + 3
    offsets = [int.from_bytes(data[first + i * size : first + (i + 1) * size], "big") for i in range(count + 1)]
    base = first + (count + 1) * size - 1  # offsets count from 1
    return [(base + offsets[i], base + offsets[i + 1]) for i in range(count)], base + offsets[-1]


def _cff_dict(data, start: int, end: int) -> dict[int, list]:
    """A CFF DICT's operators (two-byte ones as 1200 + the second byte) and their operands."""
    ops: dict[int, list] = {}
    operands: list = []
    i = start
    while i < end:
        b0 = data[i]
        if b0 <= 21:
            op, i = (1200 + data[i + 1], i + 2) if b0 == 12 else (b0, i + 1)
            ops[op], operands = operands, []
        elif b0 == 28:
            operands.append(int.from_bytes(data[i + 1 : i + 3], "big", signed=True))
            i += 3
        elif b0 == 29:
            operands.append(int.from_bytes(data[i + 1 : i + 5], "big", signed=True))
            i += 5
        elif b0 == 30:  # a real number: nibbles up to the 0xf one (not needed here)
            i += 1
            while data[i] & 0x0F != 0x0F and data[i] >> 4 != 0x0F:
                i += 1
            operands.append(0.0)
            i += 1
        elif 32 <= b0 <= 246:
            operands.append(b0 - 139)
            i += 1
        elif 247 <= b0 <= 250:
            operands.append((b0 - 247) * 256 + data[i + 1] + 108)
            i += 2
        elif 251 <= b0 <= 254:
            operands.append(-(b0 - 251) * 256 - data[i + 1] - 108)
            i += 2
        else:
            raise ValueError(f"reserved CFF DICT byte {b0}")
    return ops


def _cff_cid_ranges(cff) -> tuple[int, list[tuple[int, int, int]]] | None:
    """A CID-keyed CFF table's (bytes-like) glyph count and charset as ranges (first glyph id,
    first CID, glyphs in the range), glyph 0 (.notdef, CID 0) left out; None for any other CFF."""
    cff = memoryview(cff).cast("B")
    try:
        _, pos = _cff_index(cff, cff[2])  # the Name INDEX, after the header (its size in byte 2)
        top, _ = _cff_index(cff, pos)
        ops = _cff_dict(cff, *top[0])
        if 1230 not in ops or 15 not in ops or 17 not in ops:  # ROS, charset, CharStrings
            return None
        glyphs = int.from_bytes(cff[ops[17][0] : ops[17][0] + 2], "big")  # the CharStrings INDEX's count
        pos = ops[15][0]
        if pos <= 2:  # a predefined charset: not a CID font's
            return None
        fmt, pos, gid, ranges = cff[pos], pos + 1, 1, []
        if fmt == 0:
            for k in range(glyphs - 1):
                ranges.append((k + 1, int.from_bytes(cff[pos + 2 * k : pos + 2 * k + 2], "big"), 1))
            return glyphs, ranges
        if fmt not in (1, 2):
            return None
        size = 1 if fmt == 1 else 2
        while gid < glyphs:
            count = int.from_bytes(cff[pos + 2 : pos + 2 + size], "big") + 1
            ranges.append((gid, int.from_bytes(cff[pos : pos + 2], "big"), count))
            gid += count
            pos += 2 + size
        return (glyphs, ranges) if gid == glyphs else None
    except (IndexError, ValueError, KeyError):
        return None


def cff_cids_are_glyph_ids(cff) -> bool:
    """Whether a CFF table (bytes-like) is a CID-keyed font whose every glyph's CID is its glyph
    id (Noto Sans CJK: ROS Adobe-Identity-0, charset 1..65534 in order)."""
    charset = _cff_cid_ranges(cff)
    return charset is not None and all(gid == cid for gid, cid, _ in charset[1])


def cff_glyph_of_cid(cff) -> dict[int, int] | None:
    """A CID-keyed CFF table's glyph id of each CID (0 for 0), or None for any other CFF."""
    charset = _cff_cid_ranges(cff)
    if charset is None:
        return None
    out = {0: 0}
    for gid, cid, count in charset[1]:
        for k in range(count):
            out[cid + k] = gid + k
    return out


def _compact_cid_font_subsets() -> None:
    """WeasyPrint 70 subsets every font keeping its glyph ids (``RETAIN_GIDS``), because the PDF's
    text names glyphs by their id in the whole font. For Noto Sans CJK (65,535 glyphs) each subset
    is then as long as the font's highest glyph used: two HarfBuzz passes over tens of thousands
    of empty glyphs and a 0.4-0.8 MB font program per PDF, compressed, for a few characters; about
    30 ms of every render that prints Chinese, Japanese or Korean, however few characters.

    A CID-keyed CFF font needs none of that: the PDF's text names CIDs, and a bare CFF font program
    (FontFile3 /CIDFontType0C, what Acrobat and Ghostscript embed for CJK) maps them to its glyphs
    through its own charset, which HarfBuzz's subset keeps. So where a font's CIDs are its glyph
    ids (what WeasyPrint writes into the text; :func:`cff_cids_are_glyph_ids`), its subset holds
    the glyphs used only, renumbered, their CIDs kept, and is embedded as bare CFF: a few kilobytes,
    one pass. (Not as OpenType: poppler reads an OpenType CFF font's glyphs by glyph id.) Any other
    font (TrueType, whose glyphs the PDF names by id; CFF with glyph names; CFF2; colour or bitmap
    fonts), or a subset whose charset lacks a glyph asked for, is subset as WeasyPrint does.
    """
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint.pdf import fonts
    from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset  # (the same reason)

    if getattr(fonts.Font, "_webinar_mgr_compact", False) or not harfbuzz_subset:
        return
    retaining = fonts.Font._harfbuzz_subset
    cff_tag = harfbuzz.hb_tag_from_string(b"CFF ", -1)
    dropped = sorted(
        harfbuzz.hb_tag_from_string(name, -1)
        for name in (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")
    )

    def cff_table(hb_face):
        """The face's CFF table (a copy), or None."""
        blob = harfbuzz.hb_face_reference_table(hb_face, cff_tag)
        try:
            length = ffi.new("unsigned int *")
            data = harfbuzz.hb_blob_get_data(blob, length)
            return ffi.buffer(data, length[0])[:] if length[0] else None
        finally:
            harfbuzz.hb_blob_destroy(blob)

    def identity_cids(font) -> bool:
        if "CFF " not in font.tables or "fvar" in font.tables or font.png or font.svg or font.colr or font.bitmap:
            return False
        blob = harfbuzz.hb_face_reference_table(font.hb_face, cff_tag)
        try:
            length = ffi.new("unsigned int *")
            data = harfbuzz.hb_blob_get_data(blob, length)
            return bool(length[0]) and cff_cids_are_glyph_ids(ffi.buffer(data, length[0]))
        finally:
            harfbuzz.hb_blob_destroy(blob)

    def subset(self, to_unicode, hinting):
        if not identity_cids(self):
            return retaining(self, to_unicode, hinting)
        hb_subset = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(), harfbuzz_subset.hb_subset_input_destroy)
        gids = sorted(to_unicode)
        glyphs = harfbuzz_subset.hb_subset_input_glyph_set(hb_subset)
        harfbuzz.hb_set_add_sorted_array(glyphs, ffi.new("hb_codepoint_t[]", gids), len(gids))
        flags = harfbuzz_subset.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE
        if not hinting:
            flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING
        if self.missing:
            flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NOTDEF_OUTLINE
        harfbuzz_subset.hb_subset_input_set_flags(hb_subset, flags)
        drop = harfbuzz_subset.hb_subset_input_set(hb_subset, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG)
        harfbuzz.hb_set_add_sorted_array(drop, ffi.new("hb_codepoint_t[]", dropped), len(dropped))
        hb_face = ffi.gc(harfbuzz_subset.hb_subset_or_fail(self.hb_face, hb_subset), harfbuzz.hb_face_destroy)
        cff = cff_table(hb_face) if hb_face else None
        glyph_of_cid = cff_glyph_of_cid(cff) if cff else None
        if not glyph_of_cid or any(g not in glyph_of_cid for g in gids if g < self.glyph_count):
            return retaining(self, to_unicode, hinting)  # not what was asked for: as WeasyPrint does
        self.file_content = cff
        self._webinar_mgr_bare_cff = True

    def font_type(self):
        return "otf" if getattr(self, "_webinar_mgr_bare_cff", False) else opentype_or_truetype.fget(self)

    def vector_font_dictionary(font_dictionary, pdf, font, widths, compress, reference, *args, **kwargs):
        building(font_dictionary, pdf, font, widths, compress, reference, *args, **kwargs)
        if getattr(font, "_webinar_mgr_bare_cff", False):
            # a bare CID-keyed CFF font program (FontFile3), not an OpenType one
            pdf.objects[int(reference.split()[0])].extra["Subtype"] = "/CIDFontType0C"

    building = fonts._build_vector_font_dictionary
    opentype_or_truetype = fonts.Font.type
    fonts.Font._harfbuzz_subset = subset
    fonts.Font.type = property(font_type)
    fonts._build_vector_font_dictionary = vector_font_dictionary
    # what was replaced, for the tests that compare both ways
    fonts.Font._webinar_mgr_compact = (retaining, opentype_or_truetype, building)


def _font_files_not_copied() -> None:
    """WeasyPrint 70 copies each font's whole file into Python bytes for every PDF that uses it
    (``Font.__init__``: 20 MB for the Noto Sans CJK collection, 3-12 ms a render, per CJK font),
    though it only needs its first bytes and then embeds a subset. Here each font reads its file
    through a view of HarfBuzz's memory, kept alive with the font; a font that ends up embedded
    whole (not subset, as in forms) gets a copy after ``clean`` as before."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    from weasyprint.pdf import fonts
    from weasyprint.text.ffi import ffi, harfbuzz  # (the same reason)

    if getattr(fonts.Font, "_webinar_mgr_views", False):
        return
    copying, init, clean = fonts.get_hb_object_data, fonts.Font.__init__, fonts.Font.clean
    viewing = threading.local()

    def face_data(hb_object, ot_color=None, glyph=None):
        blobs = getattr(viewing, "blobs", None)
        if ot_color is not None or blobs is None:
            return copying(hb_object, ot_color, glyph)
        blob = ffi.gc(harfbuzz.hb_face_reference_blob(hb_object), harfbuzz.hb_blob_destroy)
        blobs.append(blob)
        length = ffi.new("unsigned int *")
        data = harfbuzz.hb_blob_get_data(blob, length)
        return None if data == ffi.NULL else ffi.buffer(data, length[0])

    def font_init(self, *args, **kwargs):
        viewing.blobs = []
        try:
            init(self, *args, **kwargs)
        finally:
            self._webinar_mgr_blobs, viewing.blobs = viewing.blobs, None

    def font_clean(self, *args, **kwargs):
        clean(self, *args, **kwargs)
        if not isinstance(self.file_content, bytes):
            self.file_content = bytes(self.file_content)

    fonts.get_hb_object_data = face_data
    fonts.Font.__init__ = font_init
    fonts.Font.clean = font_clean
    fonts.Font._webinar_mgr_views = (copying, init, clean)


PATCHED_WEASYPRINT = "70"  # the major version the three patches above were written and tested for


def weasyprint_patchable() -> bool:
    """Whether the installed WeasyPrint is the one the patches above replace the internals of
    (pyproject.toml allows 62-70): on any other, or if an internal they replace is gone, PDFs are
    rendered by WeasyPrint as it is (slower, the same pages), never broken by a missing name."""
    # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
    import weasyprint
    from weasyprint.pdf import fonts  # (the same reason)
    from weasyprint.text import ffi  # (the same reason)

    return (
        weasyprint.__version__.split(".")[0] == PATCHED_WEASYPRINT
        and all(hasattr(fonts, name) for name in ("get_hb_object_data", "_build_vector_font_dictionary"))
        and all(hasattr(fonts.Font, name) for name in ("_harfbuzz_subset", "type", "clean"))
        and hasattr(ffi, "harfbuzz")
    )


def font_config():
    """This thread's WeasyPrint ``FontConfiguration``, made once: fonts already found and loaded
    (Pango's font map) are reused by every PDF instead of being looked up again."""
    config = getattr(_local, "font_config", None)
    if config is None:
        # import here: WeasyPrint (Pango, fonts) takes a second to load; only PDF rendering needs it
        from weasyprint.text.fonts import FontConfiguration

        if weasyprint_patchable():
            _arrays_without_new_types()
            _compact_cid_font_subsets()
            _font_files_not_copied()
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
