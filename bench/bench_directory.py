"""Bench: the contacts CSV import and the directory lists on a fresh SQLite database.

Prints: preview time for a 5,000-row CSV (parse, validate emails, match organisations, look up
existing contacts), the all-or-nothing import of those rows, and the median time of the contacts
list (page 1, and a search) and the organisations list with ~5,000 contacts, through the test
client as an organiser.

    .venv/bin/python bench/bench_directory.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webinar_mgr import create_app
from webinar_mgr.extensions import db

NAMES = ["สมชาย ใจดี", "Nguyễn Thị Lan", "សុខ ដារ៉ា", "ပန်းဖြူ", "李明", "Margaret Ellison", "Siti Rahmawati"]


def _csv(n: int, orgs: list[str]) -> bytes:
    lines = ["name,email,organisation,position,focal_point,tags,timezone"]
    for i in range(n):
        lines.append(
            f"{NAMES[i % len(NAMES)]} {i},person{i}@example.org,{orgs[i % len(orgs)]},Officer,"
            f"{'yes' if i % 10 == 0 else 'no'},bench;tag{i % 7},Asia/Bangkok"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _median(fn, n: int) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    from flask_migrate import upgrade

    tmp = tempfile.mkdtemp()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.db")
    with app.app_context():
        upgrade()
        from webinar_mgr.auth import services as auth
        from webinar_mgr.directory import seed, services

        seed.seed(lambda *a: None)
        user = auth.create_user(
            email="bench@example.org",
            name="Bench",
            password="correct-horse-battery",
            roles=["organiser"],
            timezone="UTC",
        )
        db.session.commit()
        orgs = [m[0] for m in seed.MEMBERS]
        data = _csv(5000, orgs)
        t = time.perf_counter()
        preview = services.preview_contacts_csv(data, max_bytes=len(data))
        t_preview = time.perf_counter() - t
        assert preview.ok, preview.file_errors or [r.errors for r in preview.rows if r.errors][:3]
        t = time.perf_counter()
        services.import_contacts(preview, actor=user)
        db.session.commit()
        t_import = time.perf_counter() - t
        print(
            f"CSV of {len(preview.rows)} rows ({len(data) / 1024:.0f} KiB): preview {t_preview * 1000:.0f} ms, "
            f"import {t_import * 1000:.0f} ms"
        )

    client = app.test_client()
    client.post("/login", data={"email": "bench@example.org", "password": "correct-horse-battery"})
    for label, url in (
        ("contacts list, page 1", "/directory/"),
        ("contacts search 'lan'", "/directory/?q=lan&focal=1"),
        ("contacts by tag", "/directory/?tag=tag3&page=5"),
        ("organisations list", "/directory/organisations"),
    ):
        assert client.get(url).status_code == 200
        print(f"{label:24s} median {_median(lambda url=url: client.get(url), 15) * 1000:.1f} ms (5,061 contacts)")


if __name__ == "__main__":
    main()
