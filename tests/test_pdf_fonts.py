"""Fonts in the PDFs (issue 19): a CID-keyed CFF font (Noto Sans CJK) is embedded as a subset of
the glyphs used, numbered anew with their CIDs kept (pdfs._compact_cid_font_subsets), instead of
WeasyPrint's subset that keeps every glyph's number (tens of thousands of empty glyphs, 30 ms and
0.4-0.8 MB per PDF). The same PDF drawn both ways must look the same to the pixel, read the same,
and embed every font."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from webinar_mgr import pdfs

CJK_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

# Latin, Vietnamese, Thai and Chinese, regular and bold, as the agendas print them.
HTML = (
    "<html lang='zh-Hans'><body style=\"font-family: 'Noto Sans', 'Noto Sans Thai', 'Noto Sans CJK SC', "
    'sans-serif; font-size: 10pt"><h1>区域网络研讨会 · Regional webinar</h1>'
    "<p>第1场报告：打击人口贩运与技术的作用 — buôn bán người — การค้ามนุษย์</p>"
    "<p><b>日期</b> 2027年3月10日周三 13:00–21:00 (UTC+07) 曼谷</p>"
    "<table><tr><td>09:00–09:20</td><td><strong>主持人：李明</strong>, 王芳</td></tr></table></body></html>"
)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _fonts(path: Path) -> list[list[str]]:
    return [line.split() for line in _run("pdffonts", str(path)).splitlines()[2:] if line.strip()]


def _pixels(path: Path, tmp_path: Path, name: str) -> bytes:
    _run("pdftoppm", "-r", "110", "-gray", str(path), str(tmp_path / name))
    return b"".join(p.read_bytes() for p in sorted(tmp_path.glob(f"{name}*.pgm")))


def _cff(path: Path, number: int = 0):
    from fontTools.ttLib import TTFont

    return TTFont(str(path), fontNumber=number, lazy=True).reader["CFF "]


@pytest.mark.skipif(not CJK_REGULAR.exists(), reason="Noto Sans CJK is not installed")
def test_noto_cjk_cids_are_its_glyph_ids():
    for number in range(5):  # JP, KR, SC, TC, HK
        assert pdfs.cff_cids_are_glyph_ids(_cff(CJK_REGULAR, number))


@pytest.mark.skipif(not CJK_REGULAR.exists(), reason="Noto Sans CJK is not installed")
def test_a_subset_keeps_its_cids_in_its_charset(tmp_path):
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(CJK_REGULAR), fontNumber=2)
    subsetter = subset.Subsetter(subset.Options(desubroutinize=True, notdef_outline=True))
    subsetter.populate(gids=[0, 9498, 20000])
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    small = TTFont(io.BytesIO(out.getvalue()))
    cff = small.reader["CFF "]
    assert not pdfs.cff_cids_are_glyph_ids(cff)  # glyph 1 is CID 9498 (or a neighbour), not 1
    expected = {int(name[3:]) if name != ".notdef" else 0: gid for gid, name in enumerate(small.getGlyphOrder())}
    assert pdfs.cff_glyph_of_cid(cff) == expected
    assert {9498, 20000} <= set(expected)


def test_a_font_with_glyph_names_is_not_cid_keyed():
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen
    from fontTools.ttLib import TTFont

    pen = T2CharStringPen(500, None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 0))
    pen.lineTo((250, 700))
    pen.closePath()
    glyph = pen.getCharString()
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({65: "A"})
    builder.setupCFF("Test", {"FullName": "Test"}, {".notdef": glyph, "A": glyph}, {})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    cff = TTFont(io.BytesIO(out.getvalue())).reader["CFF "]
    assert pdfs.cff_glyph_of_cid(cff) is None and not pdfs.cff_cids_are_glyph_ids(cff)
    assert pdfs.cff_glyph_of_cid(b"\x01\x00\x04\x01\x00") is None  # truncated: no, not an error


@pytest.mark.skipif(not CJK_REGULAR.exists(), reason="Noto Sans CJK is not installed")
def test_chinese_pdf_looks_and_reads_the_same_with_compact_cjk_subsets(app, tmp_path, monkeypatch):
    with app.test_request_context():
        compact = tmp_path / "compact.pdf"
        compact.write_bytes(pdfs.render(HTML))
        from weasyprint.pdf import fonts

        retaining, font_type, building = fonts.Font._webinar_mgr_compact
        monkeypatch.setattr(fonts.Font, "_harfbuzz_subset", retaining)
        monkeypatch.setattr(fonts.Font, "type", font_type)
        monkeypatch.setattr(fonts, "_build_vector_font_dictionary", building)
        whole = tmp_path / "whole.pdf"
        whole.write_bytes(pdfs.render(HTML))

    rows = _fonts(compact)
    cjk = [r for r in rows if "CJK" in r[0]]
    assert len(cjk) == 2, rows  # regular and bold
    assert all(" ".join(r[1:4]) == "CID Type 0C" for r in cjk), cjk  # bare CFF, CIDs kept
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows), rows  # embedded, subset, ToUnicode
    assert [r[0] for r in rows] == [r[0] for r in _fonts(whole)]
    text = _run("pdftotext", "-layout", str(compact), "-")
    assert text == _run("pdftotext", "-layout", str(whole), "-")
    for part in ("区域网络研讨会", "打击人口贩运", "主持人：李明", "buôn bán người", "การค้ามนุษย์"):
        assert part in text, part
    assert _pixels(compact, tmp_path, "compact") == _pixels(whole, tmp_path, "whole")
    # without the change: the two CJK subsets alone were 0.4-0.8 MB
    assert compact.stat().st_size < 60_000 < whole.stat().st_size


@pytest.mark.skipif(not CJK_REGULAR.exists(), reason="Noto Sans CJK is not installed")
def test_font_files_are_read_in_place_not_copied_per_pdf(app, monkeypatch):
    """WeasyPrint copied each font's whole file (20 MB for Noto Sans CJK) into bytes per PDF; the
    fonts now read HarfBuzz's memory until they are subset."""
    pdfs.font_config()  # installs the font helpers
    from weasyprint.pdf import fonts

    seen = {}
    real_subset = fonts.Font.subset

    def subset(self, to_unicode, hinting):
        seen[self.family] = (type(self.file_content), len(self.file_content))
        return real_subset(self, to_unicode, hinting)

    monkeypatch.setattr(fonts.Font, "subset", subset)
    with app.test_request_context():
        assert pdfs.render(HTML)[:4] == b"%PDF"
    kind, size = seen["Noto Sans CJK SC"]
    assert kind is not bytes and size > 10_000_000, seen


def test_a_font_embedded_whole_is_bytes_and_readable(app, tmp_path):
    """Fonts used in PDF forms are embedded whole, not subset: they get a copy of the file."""
    from weasyprint import HTML as WeasyHTML

    with app.test_request_context():
        body = WeasyHTML(string="<form><input name='a' value='abc'><p>buôn bán người</p></form>").write_pdf(
            font_config=pdfs.font_config(), pdf_forms=True
        )
    path = tmp_path / "form.pdf"
    path.write_bytes(body)
    rows = _fonts(path)
    assert rows and all(r[-5] == "yes" for r in rows), rows
    assert "buôn bán người" in _run("pdftotext", str(path), "-")


def test_the_patches_apply_only_to_the_weasyprint_they_were_written_for(monkeypatch):
    """pyproject.toml allows WeasyPrint 62-70; the font patches replace 70's internals. Another
    version, or an internal gone, leaves WeasyPrint as it is instead of breaking every PDF."""
    import weasyprint
    from weasyprint.pdf import fonts

    assert pdfs.weasyprint_patchable() is (weasyprint.__version__.split(".")[0] == pdfs.PATCHED_WEASYPRINT)
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    assert pdfs.weasyprint_patchable() is False
    monkeypatch.undo()
    monkeypatch.delattr(fonts, "_build_vector_font_dictionary")
    assert pdfs.weasyprint_patchable() is False
