"""The README's first command gives a new user an app that sends its mail (issue 16): `make run` on
a fresh instance migrates, loads the demo data, serves the app on PORT and runs the mail worker
beside it; the worker prints the demo's mails with links to that port; Ctrl-C stops both.

A real `make run` (its install and system-package steps skipped with ``make -o``: the suite already
runs in the installed .venv) in a throw-away INSTANCE_DIR, on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, out: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s; output:\n{out.read_text(errors='replace')[-3000:]}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_make_run_serves_the_app_and_delivers_its_mail_with_links_to_its_port(tmp_path):
    port = _free_port()
    out = tmp_path / "make-run.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BASE_URL", "DATABASE_URL", "TEST_DATABASE_URL", "WEBINAR_ENV", "HOST", "PORT", "MAIL_BACKEND")
    }
    env.update(INSTANCE_DIR=str(tmp_path), WORKER_POLL_SECONDS="1", PYTHONUNBUFFERED="1")
    with out.open("w") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-o", "install", "-o", "system-packages", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches
        )
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 240, "the app answering", out)
        # the demo data queues mails (commitment follow-ups...): the worker beside the server prints them
        _wait_for(lambda: "----- mail to " in out.read_text(errors="replace"), 60, "a mail printed", out)
        text = out.read_text(errors="replace")
        links = re.findall(r"https?://[^\s\]]+", text.split("----- mail to ", 1)[1])
        app_links = [u for u in links if "/commitments/" in u or "/events/" in u or "/r/" in u]
        assert app_links and all(u.startswith(f"http://127.0.0.1:{port}/") for u in app_links), app_links
        assert "=\n" not in text and "Content-Transfer-Encoding" not in text  # decoded, not quoted-printable
        assert "weasyprint" not in text.lower()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = out.read_text(errors="replace")
    assert "worker stopped" in text  # the worker went with the server
    assert not _answers(f"http://127.0.0.1:{port}/healthz")
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes left running: {left}"
