"""Configuration classes, read from the environment.

Pick one with ``WEBINAR_ENV`` (development, testing, production); development is the default
so that ``flask`` commands work on a fresh checkout. Production refuses to start with the
default SECRET_KEY or one shorter than 32 bytes (``create_app`` checks the settings at start).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_BYTES = 32
MAX_REMEMBER_DAYS = 30


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url(default_sqlite: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres://"):  # Heroku-style URLs
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url or f"sqlite:///{default_sqlite}"


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))
    SQLALCHEMY_DATABASE_URI = _database_url(INSTANCE_DIR / "webinar_mgr.db")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Public address used in emails and calendar entries (https://events.example.org). Required in
    # production (create_app refuses to start without it); in development see DevelopmentConfig.
    BASE_URL = os.environ.get("BASE_URL", "").strip() or None
    # Development only: links in mails queued by a page follow the address that page was served on.
    BASE_URL_FROM_REQUEST = False
    ORGANISATION_NAME = os.environ.get("ORGANISATION_NAME", "Working Group on Trafficking in Persons")

    # Mail (SMTP); MAIL_BACKEND=console prints instead of sending.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 30)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "webinars@example.org")
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 8)
    MAIL_BACKOFF_SECONDS = _int("MAIL_BACKOFF_SECONDS", 60)
    MAIL_BATCH_SIZE = _int("MAIL_BATCH_SIZE", 20)  # messages a worker claims at a time
    MAIL_CLAIM_TIMEOUT = _int("MAIL_CLAIM_TIMEOUT", 600)  # seconds before an unrefreshed claim is taken over
    # Outcomes recorded in batches of this many (issue 19). 1, the default: each before the next send,
    # so after a worker crash only the message in flight can arrive twice. N > 1: fewer transactions,
    # and up to N - 1 sent-but-unrecorded messages may be sent again after a crash (docs/mail.md).
    MAIL_RECORD_EVERY = max(1, _int("MAIL_RECORD_EVERY", 1))
    MAIL_RECORD_SECONDS = _int("MAIL_RECORD_SECONDS", 1)  # with N > 1: at most this long unrecorded
    WORKER_POLL_SECONDS = _int("WORKER_POLL_SECONDS", 10)
    # The outbox and invitation pages warn when no worker has finished a round for this long.
    WORKER_STALE_SECONDS = _int("WORKER_STALE_SECONDS", 300)

    # Security
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Sessions (checked by the server with clock.now(); see webinar_mgr/auth/sessions.py):
    # signed out after this long without a request...
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 120)
    # ...and this long after signing in, however busy ("Keep me signed in" starts a new session);
    SESSION_MAX_HOURS = _int("SESSION_MAX_HOURS", 12)
    # "Keep me signed in on this device": at most 30 days after signing in (cookie and server).
    REMEMBER_DAYS = _int("REMEMBER_DAYS", 30)
    SECURE_HEADERS = True
    PASSWORD_RESET_MAX_AGE = _int("PASSWORD_RESET_MAX_AGE", 3600)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 25 * 1024 * 1024)
    CSV_MAX_BYTES = _int("CSV_MAX_BYTES", 5 * 1024 * 1024)
    # The group's outputs (compendium, papers, slides): files kept here (default: INSTANCE_DIR/outputs),
    # each at most this size (an upload also stays under MAX_CONTENT_LENGTH).
    OUTPUTS_DIR = os.environ.get("OUTPUTS_DIR") or None
    OUTPUTS_MAX_BYTES = _int("OUTPUTS_MAX_BYTES", 25 * 1024 * 1024)
    # Speakers' photos (issue 15): resized JPEGs kept here (default: INSTANCE_DIR/speaker-photos);
    # an upload larger than the limit is refused before it is read further.
    SPEAKER_PHOTOS_DIR = os.environ.get("SPEAKER_PHOTOS_DIR") or None
    SPEAKER_PHOTO_MAX_BYTES = _int("SPEAKER_PHOTO_MAX_BYTES", 5 * 1024 * 1024)

    # Rate limits (Flask-Limiter); use redis://127.0.0.1:6379 with several workers.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # Public forms (registration, invitation link, manage my registration): generous enough for an
    # office of colleagues behind one address, tight enough to stop a script filling the list.
    PUBLIC_FORM_RATE_LIMIT = os.environ.get("PUBLIC_FORM_RATE_LIMIT", "30 per minute;300 per hour")

    # The activity report for a period with more held events than this is prepared by the worker,
    # its progress shown, instead of built while the person waits (issue 19; docs/reports.md).
    REPORT_BACKGROUND_AFTER_EVENTS = _int("REPORT_BACKGROUND_AFTER_EVENTS", 60)

    # i18n / time
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    # Offered languages, each named in its own language (the switcher and the profile show these).
    # A language is offered when it is listed here AND has webinar_mgr/translations/<code>/; see
    # docs/translations.md to add one (Khmer, Malay, Lao, Myanmar: a catalogue and a line here).
    LANGUAGES = {
        "en": "English",
        "id": "Bahasa Indonesia",
        "th": "ไทย",
        "vi": "Tiếng Việt",
        "zh_Hans": "中文（简体）",
    }
    LANGUAGE_COOKIE = "lang"
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "Asia/Bangkok")
    COMMITMENT_MAX_DAYS = _int("COMMITMENT_MAX_DAYS", 365)  # target date: default and latest, after the event


def _dev_base_url() -> str:
    """The development server's address from HOST and PORT (``PORT=5301 make run`` passes both to
    the server and to its worker), so that the links in mails open the app that sent them."""
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # listening everywhere: this machine is reachable at loopback
        host = "127.0.0.1"
    return f"http://{host}:{_int('PORT', 5000)}"


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False
    SECURE_HEADERS = False
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    BASE_URL = Config.BASE_URL or _dev_base_url()
    BASE_URL_FROM_REQUEST = Config.BASE_URL is None


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SECURE_HEADERS = False
    MAIL_BACKEND = "smtp"
    MAIL_SERVER = "127.0.0.1"
    MAIL_BACKOFF_SECONDS = 1
    BASE_URL = Config.BASE_URL or "http://localhost"
    SERVER_NAME = None
    PASSWORD_HASH_FAST = True
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}


class ProductionConfig(Config):
    ENV_NAME = "production"
    # Each process loads WeasyPrint and its fonts, and Babel's data of the offered languages, when
    # it starts (about a second), so that the first PDF or page it serves does not pay for it
    # (issue 19). PDF_WARM_UP=0 turns it off.
    PDF_WARM_UP = os.environ.get("PDF_WARM_UP", "1").strip().lower() not in ("0", "false", "no", "off")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> type[Config]:
    name = (name or os.environ.get("WEBINAR_ENV") or "development").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"Unknown WEBINAR_ENV {name!r}; use one of {sorted(CONFIGS)}") from None
