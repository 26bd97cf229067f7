"""Issue 19: a long period's activity report is built by the worker, with its progress on a page
that refreshes itself, and the finished file offered to the person who asked (and the co-chairs
and administrators); a short period's report stays immediate."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.review_dataset import NOW, build_dataset
from webinar_mgr import clock, jobs
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.extensions import db
from webinar_mgr.reports import pdf as report_pdf
from webinar_mgr.reports import report_jobs
from webinar_mgr.reports.models import ReportJob

PERIOD = "from=2026-01-01&to=2026-06-30"  # three events held


@pytest.fixture
def data(app):
    clock.freeze(NOW)
    return build_dataset()


@pytest.fixture
def long_reports(app):
    """Any period with more than one held event counts as long."""
    app.config["REPORT_BACKGROUND_AFTER_EVENTS"] = 1


def _job_id(resp) -> int:
    assert resp.status_code == 303, resp.status_code
    return int(re.search(r"/review/prepared/(\d+)$", resp.headers["Location"]).group(1))


def test_a_short_period_is_built_in_the_request(client, data, make_user, login):
    login(make_user("cochair"))
    resp = client.get(f"/review/activity-report.pdf?{PERIOD}")
    assert resp.status_code == 200 and resp.data[:4] == b"%PDF"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == 0


def test_a_long_period_is_built_by_the_worker_with_its_progress(client, data, long_reports, make_user, login):
    ana = make_user("cochair", email="ana@example.org")
    login(ana)
    # The review offers to prepare it; the PDF address (the statement's annex link) says the same.
    page = client.get(f"/review?{PERIOD}").get_data(as_text=True)
    assert "Prepare the report" in page and "/review/activity-report?" in page
    offer = client.get(f"/review/activity-report.pdf?{PERIOD}")
    assert offer.status_code == 200 and offer.mimetype == "text/html"
    assert "Prepare the report" in offer.get_data(as_text=True)

    job_id = _job_id(client.post(f"/review/activity-report?{PERIOD}&last=1"))
    # Asking again gives the same job, not a second build.
    assert _job_id(client.post(f"/review/activity-report?{PERIOD}&last=1")) == job_id
    job = db.session.get(ReportJob, job_id)
    assert job.status == "queued" and job.requested_by_id == ana.id
    assert job.parameters == {"from": "2026-01-01", "to": "2026-06-30", "last": 1, "language": "en"}
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "report.requested")).all()
    assert len(audit) == 1 and audit[0].object_id == str(job_id)

    waiting = client.get(f"/review/prepared/{job_id}")
    html = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and '<meta http-equiv="refresh" content="3">' in html
    assert "Being prepared: 0 %" in html and "<script" not in html.split("</head>")[0].split("<title>")[1]

    seen = []
    real = report_jobs._set_progress
    report_jobs._set_progress = lambda jid, p: seen.append(p) or real(jid, p)
    try:
        results = jobs.run_scheduled()
    finally:
        report_jobs._set_progress = real
    assert results["report_jobs"] == 1
    assert seen == sorted(seen) and seen[-1] >= 85  # the progress only goes up
    db.session.expire_all()
    job = db.session.get(ReportJob, job_id)
    assert job.status == "done" and job.progress == 100 and job.expires_at > NOW
    assert jobs.run_scheduled()["report_jobs"] == 0  # nothing left to build

    done = client.get(f"/review/prepared/{job_id}").get_data(as_text=True)
    assert "http-equiv" not in done and f"/review/prepared/{job_id}/file" in done
    pdf = client.get(f"/review/prepared/{job_id}/file")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    assert "activity-report-2026-01-01-2026-06-30.pdf" in pdf.headers["Content-Disposition"]


def test_only_the_requester_co_chairs_and_admins_see_the_file(app, client, data, long_reports, make_user, login):
    org = make_user("organiser", email="olga@example.org")
    login(org)
    job_id = _job_id(client.post(f"/review/activity-report?{PERIOD}"))
    report_jobs.build_queued()
    assert client.get(f"/review/prepared/{job_id}/file").status_code == 200
    for roles in (("organiser",), ("participant",)):
        other = app.test_client()
        user = make_user(*roles)
        assert other.post("/login", data={"email": user.email, "password": "correct-horse-battery"}).status_code == 302
        # another organiser is told there is no such report; a participant may not see the review
        assert other.get(f"/review/prepared/{job_id}/file").status_code in (403, 404)
        assert other.get(f"/review/prepared/{job_id}").status_code in (403, 404)
    for roles in (("cochair",), ("admin",)):
        other = app.test_client()
        user = make_user(*roles)
        assert other.post("/login", data={"email": user.email, "password": "correct-horse-battery"}).status_code == 302
        assert other.get(f"/review/prepared/{job_id}/file").status_code == 200


def test_a_failed_build_says_so_and_can_be_asked_again(client, data, long_reports, make_user, login, monkeypatch):
    login(make_user("cochair"))
    job_id = _job_id(client.post(f"/review/activity-report?{PERIOD}"))

    def broken(html, progress=None):
        raise RuntimeError("fonts missing")

    monkeypatch.setattr(report_pdf, "_render", broken)
    report_jobs.build_queued()
    db.session.expire_all()
    job = db.session.get(ReportJob, job_id)
    assert job.status == "failed" and "fonts missing" in job.message
    page = client.get(f"/review/prepared/{job_id}").get_data(as_text=True)
    assert "could not be prepared" in page and "http-equiv" not in page
    assert client.get(f"/review/prepared/{job_id}/file").status_code == 404
    assert _job_id(client.post(f"/review/activity-report?{PERIOD}")) != job_id  # a new attempt


def test_files_expire_and_a_dead_worker_s_job_is_built_again(client, data, long_reports, make_user, login):
    user = make_user("cochair")
    login(user)
    job_id = _job_id(client.post(f"/review/activity-report?{PERIOD}"))
    # A worker claimed it and died: after STALE_AFTER the next round builds it again.
    db.session.execute(sa.update(ReportJob).values(status="running", started_at=NOW, progress=40))
    db.session.commit()
    assert report_jobs.build_queued() == 0
    clock.freeze(NOW + report_jobs.STALE_AFTER + timedelta(minutes=1))
    assert report_jobs.build_queued() == 1
    db.session.expire_all()
    assert db.session.get(ReportJob, job_id).status == "done"
    clock.freeze(NOW + timedelta(days=report_jobs.KEEP_DAYS + 1))
    login(user)  # signed in again: the session of a week ago has ended
    assert client.get(f"/review/prepared/{job_id}").status_code == 404
    report_jobs.build_queued()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == 0


def test_the_statement_with_a_long_annex_offers_to_prepare_the_report(client, data, long_reports, make_user, login):
    login(make_user("cochair"))
    resp = client.get("/review/statement.pdf?from=2026-01-01&to=2026-06-30&annex=1")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "Prepare the report" in resp.get_data(as_text=True)
    plain = client.get("/review/statement.pdf?from=2026-01-01&to=2026-06-30")
    assert plain.status_code == 200 and plain.data[:4] == b"%PDF"


def test_the_mail_goes_out_while_the_worker_builds_a_long_report(client, mailbox, data, long_reports, make_user, login):
    """The polling worker builds a queued report beside its delivery rounds (jobs.Alongside): a
    mail queued meanwhile is delivered while the build is still going on."""
    from webinar_mgr.mail import services as mail

    login(make_user("cochair"))
    job_id = _job_id(client.post(f"/review/activity-report?{PERIOD}&last=1"))
    mail.queue("during@example.org", "Sent during the build", body_text="x")
    db.session.commit()

    building, delivered_meanwhile = threading.Event(), threading.Event()
    real_render = report_jobs.render_activity_report

    def long_render(*args, **kwargs):  # a long report: it goes on until the mail is out (20 s at most)
        building.set()
        for _ in range(400):
            if mailbox.to("during@example.org"):
                delivered_meanwhile.set()
                break
            time.sleep(0.05)
        return real_render(*args, **kwargs)

    report_jobs.render_activity_report = long_render
    try:
        result = client.application.test_cli_runner().invoke(args=["worker", "--interval", "0.05", "--rounds", "20"])
    finally:
        report_jobs.render_activity_report = real_render
    assert result.exit_code == 0, result.output
    assert building.is_set() and delivered_meanwhile.is_set(), result.output
    db.session.expire_all()
    job = db.session.get(ReportJob, job_id)  # the stopping worker let the build end
    assert job.status == "done" and job.content[:4] == b"%PDF", (job.status, job.message)


def test_a_job_beside_the_rounds_runs_once_at_a_time_and_is_counted_when_it_ends(app):
    release, runs = threading.Event(), []

    def job() -> int:
        runs.append(threading.current_thread().name)
        release.wait(10)
        return 7

    alongside = jobs.Alongside(app)
    assert alongside.poll("test-job", job) == {}  # started
    assert alongside.poll("test-job", job) == {}  # still going: not started twice
    assert alongside.running() == ["test-job"]
    release.set()
    alongside.wait(10)
    assert alongside.poll("test-job", job) == {"test-job": 7}  # ended: counted; and started again
    alongside.wait(10)
    assert runs == ["job-test-job", "job-test-job"]
