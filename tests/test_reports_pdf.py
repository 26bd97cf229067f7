"""The activity report PDF (checked as text with pdftotext, fonts with pdffonts) and its CLI."""

from __future__ import annotations

import re
import subprocess

import pytest
import sqlalchemy as sa

from tests.review_dataset import FORMULA_TITLE, build_dataset


@pytest.fixture
def data(app):
    return build_dataset()


def pdf_text(path, layout=True) -> str:
    args = ["pdftotext", "-layout" if layout else "-raw", str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_fonts(path) -> list[dict]:
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()[2:]
    fonts = []
    for line in lines:
        parts = line.split()
        # name type... encoding emb sub uni object-id gen: the flags are the 5th-3rd last columns
        fonts.append({"name": parts[0], "emb": parts[-5], "line": line})
    return fonts


def check_report(path):
    text = pdf_text(path)
    for needle in (
        "Activity report",
        "January 1, 2026",
        "June 30, 2026",
        "Technology and trafficking",
        "COVID-19 recovery",
        "Events held",
        "Upcoming events",
        "Open session on online scams",
        "Annual meeting 2026",
        "October 2026",
        "Commitments pledged and delivered",
        "Stopped coming",
    ):
        assert needle in text, needle
    assert "Annual meeting 2025" not in text and "Cancelled seminar" not in text
    assert "ราชอาณาจักรไทย" in text  # Thai script survives into the PDF
    assert "'" + FORMULA_TITLE[:10] in text or FORMULA_TITLE[:10] in text
    # key figures: 3 events, 12 registrations, 8 attendances
    compact = " ".join(pdf_text(path, layout=False).split())
    assert "3 events held" in compact and "12 registrations" in compact and "8 attendances" in compact
    assert re.search(r"\b1 ?/ ?4\b", text) and re.search(r"\b4 ?/ ?4\b", text)  # page numbers n / total
    fonts = pdf_fonts(path)
    assert fonts, "no fonts listed"
    assert all(f["emb"] == "yes" for f in fonts), [f["line"] for f in fonts if f["emb"] != "yes"]
    assert any("Noto-Sans-Thai" in f["name"] or "NotoSansThai" in f["name"] for f in fonts)
    return text


def test_activity_report_pdf(client, data, make_user, login, tmp_path):
    login(make_user("cochair"))
    resp = client.get("/review/activity-report.pdf", query_string={"from": "2026-01-01", "to": "2026-06-30"})
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert 'filename="activity-report-2026-01-01-2026-06-30.pdf"' in resp.headers["Content-Disposition"]
    body = resp.get_data()
    assert body.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(body)
    check_report(path)


def test_activity_report_for_a_period_without_events(client, data, make_user, login, tmp_path):
    login(make_user("organiser"))
    resp = client.get("/review/activity-report.pdf", query_string={"from": "2024-01-01", "to": "2024-12-31"})
    assert resp.status_code == 200
    path = tmp_path / "empty.pdf"
    path.write_bytes(resp.get_data())
    text = pdf_text(path)
    assert "No events were held in this period." in text and "Open session on online scams" in text


def test_cli_writes_the_report(app, data, tmp_path):
    out = tmp_path / "activity.pdf"
    result = app.test_cli_runner().invoke(
        args=["report", "activity", "--from", "2026-01-01", "--to", "2026-06-30", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "3 event(s) held, 8 attendance(s)" in result.output
    assert out.read_bytes().startswith(b"%PDF")
    check_report(out)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-02-30", "--to", "2026-06-30"], "not a valid"),
        (["--from", "2026-06-30", "--to", "2026-01-01"], "after it ends"),
        (["--from", "2026-01-01"], "Missing option '--to'"),
    ],
)
def test_cli_rejects_bad_dates(app, data, tmp_path, args, message):
    out = tmp_path / "never.pdf"
    result = app.test_cli_runner().invoke(args=["report", "activity", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_cli_rejects_a_missing_folder(app, data, tmp_path):
    result = app.test_cli_runner().invoke(
        args=[
            "report",
            "activity",
            "--from",
            "2026-01-01",
            "--to",
            "2026-06-30",
            "--out",
            str(tmp_path / "nope" / "r.pdf"),
        ]
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_activity_report_is_rendered_once_per_content(app, client, make_user, login, monkeypatch, data):
    from webinar_mgr.extensions import db
    from webinar_mgr.reports import pdf as report_pdf
    from webinar_mgr.reports.models import RenderedReport

    login(make_user("cochair"))
    renders = []
    real = report_pdf._render
    monkeypatch.setattr(report_pdf, "_render", lambda html, progress=None: renders.append(1) or real(html, progress))
    url = "/review/activity-report.pdf?from=2025-07-01&to=2026-06-30"
    first = client.get(url)
    second = client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and first.data[:4] == b"%PDF"
    assert len(renders) == 1  # the second download came from the store
    # Any change of the data makes a new report.
    data["e1"].title = "Technology and trafficking in persons"
    db.session.commit()
    third = client.get(url)
    assert len(renders) == 2 and third.data != first.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RenderedReport)) == 2
    # Only the newest are kept.
    monkeypatch.setattr(report_pdf, "KEEP", 1)
    client.get("/review/activity-report.pdf?from=2025-07-01&to=2026-05-31")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RenderedReport)) == 1


def test_event_cells_are_one_text_each_with_their_lines(app, data, tmp_path):
    """Issue 19: each element in a cell is a box WeasyPrint lays out; the events' date and event
    cells are one text each (a line break in the text), and the PDF still reads date, time and
    zone, title, kind on their lines."""
    from datetime import date

    from webinar_mgr.reports import pdf, services

    with app.test_request_context():
        html = pdf.activity_report_html(services.activity_report(date(2026, 1, 1), date(2026, 6, 30)))
        body = pdf._render(html)
    events = html.split('<table class="events', 1)[1].split("</table>", 1)[0]
    assert "<br>" not in events and "<small>" not in events and 'class="when"' in events
    path = tmp_path / "report.pdf"
    path.write_bytes(body)
    lines = [" ".join(line.split()) for line in pdf_text(path, layout=False).splitlines()]
    assert any(re.fullmatch(r"\d\d:\d\d UTC[+-]\d\d(:\d\d)?", line) for line in lines), lines[:60]
    assert "Technology and trafficking" in " ".join(lines)
