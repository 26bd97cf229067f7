"""The bench's floors served over HTTP (bench/run.py's PostgreSQL mode): a bare Flask +
SQLAlchemy app run by the same gunicorn settings as the app, so that each figure's floor pays the
same server, network and database costs as the figure.

- ``GET /form`` then ``POST /insert``: the registration floor. The GET hands out a form with a
  token kept in Flask's signed session cookie (what a CSRF token costs at its simplest); the POST
  checks the token, inserts one row into ``bench_floor`` and redirects, like a registration.
- ``GET /ping``: ``SELECT 1``, the floor app's /healthz.
- ``GET /paragraph.pdf``: one paragraph in the agenda PDF's fonts, rendered by WeasyPrint
  (imported on the first call; with BENCH_FLOOR_WARM_UP=1, imported and one paragraph rendered
  when the worker starts, as the app's PDF warm-up does).

    gunicorn "bench.floor_app:create_app()"      # DATABASE_URL and SECRET_KEY from the environment
"""

from __future__ import annotations

import os
import secrets

import sqlalchemy as sa
from flask import Flask, Response, abort, redirect, request, session

PARAGRAPH = (
    "<html><head><style>body{font-family:'Noto Sans','Noto Sans Thai','Noto Sans CJK SC'}</style></head>"
    "<body><p>One paragraph: การค้ามนุษย์ buôn bán người 人口贩运</p></body></html>"
)


def create_app() -> Flask:
    app = Flask("floor")
    app.secret_key = os.environ["SECRET_KEY"]
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = sa.create_engine(url, pool_pre_ping=True)
    if os.environ.get("BENCH_FLOOR_WARM_UP"):
        from weasyprint import HTML

        HTML(string=PARAGRAPH).write_pdf()

    @app.get("/ping")
    def ping():
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/form")
    def form():
        token = session.setdefault("t", secrets.token_urlsafe(24))
        return (
            '<form method="post" action="/insert"><input name="email">'
            f'<input type="hidden" name="csrf_token" value="{token}"></form>'
        )

    @app.post("/insert")
    def insert():
        if not session.get("t") or request.form.get("csrf_token") != session["t"]:
            abort(400)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO bench_floor (email) VALUES (:e)"), {"e": request.form.get("email", "")})
        return redirect("/done", 302)

    @app.get("/paragraph.pdf")
    def paragraph():
        from weasyprint import HTML  # imported on the first call, as in a fresh process

        return Response(HTML(string=PARAGRAPH).write_pdf(), mimetype="application/pdf")

    return app
