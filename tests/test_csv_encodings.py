"""CSV files in the region's legacy encodings: detected, named in the preview, or chosen by the
organiser; the choice holds from the preview to the confirmation (issue 16)."""

from __future__ import annotations

import io
import unicodedata

import pytest
import sqlalchemy as sa

from webinar_mgr import csvio
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Contact
from webinar_mgr.extensions import db

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def windows_1258(text: str) -> bytes:
    """Vietnamese as Windows writes it in cp1258: base letters precomposed, tones combining."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1258")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        nfd = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES))
        out.append(base + "".join(c for c in nfd if c in _TONES))
    return "".join(out).encode("cp1258")


SAMPLES = {
    "cp874": (
        "name,email,position\n"
        "สมชาย ใจดี,somchai@example.go.th,ผู้อำนวยการกองต่อต้านการค้ามนุษย์\n"
        "วิภา ทองดี,wipa@example.go.th,นักสังคมสงเคราะห์ชำนาญการ\n"
    ),
    "cp1258": (
        "name,email,position\n"
        "Nguyễn Văn An,an@example.gov.vn,Vụ trưởng Vụ Hợp tác quốc tế\n"
        "Trần Thị Bình,binh@example.gov.vn,Chuyên viên phòng chống mua bán người\n"
    ),
    "gb18030": (
        "name,email,position\n王小明,wang@example.cn,公安部刑事侦查局处长\n李华,li@example.cn,外交部国际司官员\n"
    ),
    "big5": "name,email,position\n陳大文,chan@example.hk,香港警務處督察\n林美玲,lam@example.tw,外交部科長\n",
    "cp949": "name,email,position\n김민준,kim@example.kr,외교부 서기관\n이서연,lee@example.kr,법무부 인권국 사무관\n",
    "cp932": (
        "name,email,position\n山田太郎,yamada@example.jp,外務省課長補佐\n佐藤花子,sato@example.jp,法務省入国管理局係長\n"
    ),
}


def _encode(codec: str, text: str) -> bytes:
    return windows_1258(text) if codec == "cp1258" else text.encode(codec)


@pytest.mark.parametrize("codec", list(SAMPLES))
def test_the_regions_legacy_encodings_are_detected(codec):
    text, found = csvio.decode(_encode(codec, SAMPLES[codec]))
    assert found == codec
    assert text == SAMPLES[codec]  # Vietnamese tones composed again (NFC)


def test_utf8_stays_utf8_and_an_unreadable_file_says_so():
    assert csvio.decode("name\nสมชาย\n".encode())[1] == "utf-8"
    with pytest.raises(csvio.CsvProblem, match="Wrong encoding"):
        csvio.decode(b"name,email\n\x81\xff\x8d\xff,a@example.org\n")


def test_a_chosen_encoding_is_used_or_refused_clearly():
    data = _encode("cp874", SAMPLES["cp874"])
    assert csvio.decode(data, encoding="cp874")[0] == SAMPLES["cp874"]
    # Windows-874 leaves 0xFC-0xFF undefined: read as Thai, this file is not Thai
    with pytest.raises(csvio.CsvProblem, match="cannot be read as Windows-874"):
        csvio.decode(b"name\n\xff\xfe\xfd\n", encoding="cp874")
    with pytest.raises(csvio.CsvProblem, match="Unknown encoding"):
        csvio.decode(data, encoding="rot13")


def _upload(client, data: bytes, **extra):
    return client.post(
        "/directory/import",
        data={"file": (io.BytesIO(data), "contacts.csv"), **extra},
        content_type="multipart/form-data",
    )


def test_a_thai_windows_874_file_imports_through_the_pages(client, organiser, login):
    login(organiser)
    resp = _upload(client, _encode("cp874", SAMPLES["cp874"]))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Windows-874 / TIS-620" in page and "สมชาย ใจดี" in page
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    resp = client.post("/directory/import/confirm", data={"upload_id": upload_id})
    assert resp.status_code == 302
    names = set(db.session.scalars(sa.select(Contact.name)))
    assert names == {"สมชาย ใจดี", "วิภา ทองดี"}


def test_the_organiser_reads_the_file_again_in_another_encoding(client, organiser, login):
    """A Big5 file misread (here: forced to be read as GB18030 at upload) is read again as Big5
    from the preview, and the confirmation imports what the preview showed."""
    login(organiser)
    data = _encode("big5", SAMPLES["big5"])
    resp = _upload(client, data, encoding="gb18030")
    assert resp.status_code == 302  # GB18030 reads these bytes, but as other characters
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "陳大文" not in page and "GB18030" in page
    resp = client.post(f"/directory/import/{upload_id}/encoding", data={"encoding": "big5"})
    assert resp.status_code == 302
    page = client.get(f"/directory/import/{upload_id}").get_data(as_text=True)
    assert "陳大文" in page and "Big5" in page
    client.post("/directory/import/confirm", data={"upload_id": upload_id})
    assert set(db.session.scalars(sa.select(Contact.name))) == {"陳大文", "林美玲"}


def test_choosing_an_unknown_encoding_changes_nothing(client, organiser, login):
    login(organiser)
    _upload(client, _encode("cp949", SAMPLES["cp949"]))
    upload_id = db.session.scalar(sa.select(PendingUpload.id))
    resp = client.post(f"/directory/import/{upload_id}/encoding", data={"encoding": "klingon"})
    assert resp.status_code == 302
    page = client.get(f"/directory/import/{upload_id}").get_data(as_text=True)
    assert "김민준" in page and "CP949 / EUC-KR" in page


def test_preview_service_keeps_the_choice_with_the_staged_file(app, organiser):
    data = _encode("cp1258", SAMPLES["cp1258"])
    upload, preview = directory.stage_contacts_upload("vn.csv", data, encoding="cp1258", actor=organiser)
    assert upload is not None and preview.encoding == "cp1258"
    assert directory.upload_encoding(upload) == "cp1258"
    assert [r.name for r in directory.preview_upload(upload).rows] == ["Nguyễn Văn An", "Trần Thị Bình"]
