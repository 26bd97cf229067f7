"""Downloads: file names safe for any title (one helper, exports.content_disposition) and PDFs
that read nothing but the app's own static files (webinar_mgr/pdfs.py)."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
from urllib.parse import unquote

import pytest

from tests import factories
from webinar_mgr import clock, exports, pdfs
from webinar_mgr.events import pdf as agenda_pdf
from webinar_mgr.events import services as events
from webinar_mgr.reports import pdf as report_pdf

HOSTILE_TITLE = 'Say "hello"; filename=evil.exe\r\nSet-Cookie: a=b การประชุมเชิงปฏิบัติการ'


def parse_disposition(header: str) -> dict[str, str]:
    """The parameters of a Content-Disposition header, read as a strict RFC 6266 client would."""
    assert "\r" not in header and "\n" not in header
    kind, _sep, rest = header.partition(";")
    params = {"kind": kind.strip()}
    for m in re.finditer(r'\s*([a-z*]+)=("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)', rest):
        key, value = m.group(1), m.group(2)
        assert key not in params, f"{key} twice in {header!r}"
        params[key] = value[1:-1] if value.startswith('"') else value
    assert set(params) <= {"kind", "filename", "filename*"}, header
    return params


def check_disposition(header: str, *, contains: str | None = None) -> dict[str, str]:
    params = parse_disposition(header)
    assert params["kind"] in ("attachment", "inline")
    plain = params["filename"]
    assert plain.isascii() and plain.isprintable()
    assert not any(c in plain for c in '"\\/;'), plain
    if "filename*" in params:
        charset, _lang, encoded = params["filename*"].split("'", 2)
        assert charset == "UTF-8" and re.fullmatch(r"[A-Za-z0-9%!#$&+\-.^_`|~]+", encoded), encoded
        params["name"] = unquote(encoded)
    else:
        params["name"] = plain
    name = params["name"]
    assert name.isprintable() and not any(c in name for c in '"\\/\r\n'), name
    if contains:
        assert contains in name
    return params


@pytest.mark.parametrize(
    "filename",
    [
        HOSTILE_TITLE + ".pdf",
        "การประชุม.ics",
        "../../etc/passwd",
        "a\x00b\u2028c\x85d.csv",
        "",
        "x" * 500 + ".xlsx",
        "plain-name.csv",
    ],
)
def test_content_disposition_is_one_safe_header_for_any_name(filename):
    params = check_disposition(exports.content_disposition(filename))
    assert len(params["name"]) <= exports.NAME_MAX + 6
    if filename == "plain-name.csv":
        assert exports.content_disposition(filename) == 'attachment; filename="plain-name.csv"'


def test_content_disposition_keeps_thai_and_falls_back_to_ascii():
    params = check_disposition(exports.content_disposition("การประชุม.ics", fallback="event-7"))
    assert params["name"] == "การประชุม.ics" and params["filename"] == "event-7.ics"
    params = check_disposition(exports.content_disposition(HOSTILE_TITLE + ".pdf"))
    assert params["name"] == "Say 'hello'; filename=evil.exe Set-Cookie a=b การประชุมเชิงปฏิบัติการ.pdf"
    assert params["filename"] == "Say 'hello' filename evil.exe Set-Cookie a b.pdf"
    assert params["name"].endswith(".pdf") and params["filename"].endswith(".pdf")
    assert "Set-Cookie" not in params["filename"].split(".pdf")[1:]


@pytest.fixture
def hostile_event(app, organiser):
    clock.freeze(factories.NOW)
    event = factories.make_event(organiser, title=HOSTILE_TITLE)
    events.change_status(event, "scheduled", actor=organiser)
    return event


def test_every_download_of_a_hostile_title_has_a_safe_name(client, hostile_event, organiser, login):
    login(organiser)
    factories.register(hostile_event, "ana@example.org")
    downloads = {
        f"/events/{hostile_event.id}/agenda.pdf": "การประชุม",
        f"/events/{hostile_event.id}/calendar.ics": "การประชุม",
        "/calendar.ics": "events",
        f"/events/{hostile_event.id}/registrations.csv": "registrations",
        f"/events/{hostile_event.id}/registrations.xlsx": "registrations",
        f"/events/{hostile_event.id}/attendance/export.csv": "attendance",
        "/commitments.csv": "commitments",
        "/commitments.xlsx": "commitments",
        f"/review/events/{hostile_event.id}/export/sector.xlsx": f"event-{hostile_event.id}-sector",
        "/review/activity-report.pdf": "activity-report",
    }
    for url, expected in downloads.items():
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:300])
        check_disposition(resp.headers["Content-Disposition"], contains=expected)
        content_type = resp.headers["Content-Type"]
        assert content_type.count("charset") <= 1, (url, content_type)  # once, not "charset=utf-8; charset=utf-8"
    agenda = check_disposition(client.get(f"/events/{hostile_event.id}/agenda.pdf").headers["Content-Disposition"])
    assert agenda["name"] == "Agenda - Say 'hello'; filename=evil.exe Set-Cookie a=b การประชุมเชิงปฏิบัติการ.pdf"
    assert agenda["filename"] == "Agenda - Say 'hello' filename evil.exe Set-Cookie a b.pdf"


# The PDF renderer reads the app's static files only --------------------------------------------


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # http.server's name for it
        _Hits.hits.append(self.path)
        body = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text y="20">NETWORK</text></svg>'
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def web_server():
    _Hits.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _svg(text: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text y="20">{text}</text></svg>'


@pytest.fixture
def files(app, tmp_path, monkeypatch):
    """A secret file outside static/ and an image inside it (the app's static folder moved to a
    temporary one for the test)."""
    static = tmp_path / "static"
    (static / "img").mkdir(parents=True)
    (static / "img" / "ok.svg").write_text(_svg("ALLOWEDIMAGE"))
    secret = tmp_path / "secret.svg"
    secret.write_text(_svg("SECRETFILE"))
    (static / "img" / "link.svg").symlink_to(secret)
    monkeypatch.setattr(app, "static_folder", str(static))
    return {"static": static, "secret": secret}


def _pdf_text(body: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _hostile_html(files, web_server) -> str:
    return f"""<html><body><p>BODYTEXT</p>
      <img src="file:///etc/passwd">
      <img src="{files["secret"].as_uri()}">
      <img src="{files["static"].as_uri()}/img/../../secret.svg">
      <img src="img/link.svg">
      <img src="{web_server}/image.svg">
      <img src="http://localhost:1/nothing.svg">
      <link rel="stylesheet" href="{web_server}/style.css">
      <img src="img/ok.svg">
    </body></html>"""


@pytest.mark.parametrize("render", [agenda_pdf.render, report_pdf._render], ids=["agenda", "activity-report"])
def test_pdf_renderers_fetch_only_static_files(app, files, web_server, tmp_path, render):
    with app.test_request_context():
        text = _pdf_text(render(_hostile_html(files, web_server)), tmp_path)
    assert "BODYTEXT" in text
    assert "ALLOWEDIMAGE" in text  # a static file is read
    assert "SECRETFILE" not in text  # not a file outside static/ (by path, ../ or symlink)
    assert "root:" not in text
    assert _Hits.hits == []  # nothing fetched over the network


def test_without_the_fetcher_the_same_html_would_reach_out(app, files, web_server, tmp_path):
    """The control: WeasyPrint's default fetcher reads the file and calls the server."""
    from weasyprint import HTML

    body = HTML(string=_hostile_html(files, web_server), base_url=files["static"].as_uri() + "/").write_pdf()
    text = _pdf_text(body, tmp_path)
    assert "SECRETFILE" in text and _Hits.hits


def test_fetcher_refuses_redirects_and_other_schemes(app, files):
    with app.test_request_context():
        fetcher = pdfs.url_fetcher()
        root = pdfs.static_root()
        for url in (
            "ftp://example.org/x",
            "https://example.org/x",
            "file://otherhost/etc/passwd",
            "file:///etc/passwd",
        ):
            with pytest.raises(ValueError):
                fetcher.fetch(url)
        assert pdfs.static_file((files["static"] / "img" / "ok.svg").as_uri(), root) is not None
        assert fetcher.fetch("data:text/plain,hi").read() == b"hi"
