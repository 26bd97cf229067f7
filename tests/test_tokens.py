"""Personal links' tokens (webinar_mgr.tokens): the signer made once per secret and salt signs the
same bytes as a new itsdangerous serializer per call, and checks them the same way."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from webinar_mgr import tokens
from webinar_mgr.errors import ValidationFailed


@pytest.fixture
def fixed_time(monkeypatch):
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 1_799_000_000.25)


@pytest.mark.parametrize("salt", ["invitation", "registration", "reset-password"])
def test_tokens_are_the_bytes_a_new_serializer_makes(app, fixed_time, salt):
    payloads = [{"i": 1, "n": "abc"}, {"i": 123456, "n": "A4lWMo0ewFwyttwwOXvkCQ", "x": "é ไทย 中文" * 20}, {}]
    with app.app_context():
        plain = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt)
        for payload in payloads:
            assert tokens.make(salt, payload) == plain.dumps(payload)
            assert tokens.load(salt, plain.dumps(payload)) == payload  # and reads the plain ones
            assert plain.loads(tokens.make(salt, payload)) == payload


def test_a_token_of_another_salt_or_secret_or_tampered_is_refused(app):
    with app.app_context():
        token = tokens.make("invitation", {"i": 1, "n": "abc"})
        assert tokens.load("invitation", token) == {"i": 1, "n": "abc"}
        with pytest.raises(ValidationFailed):
            tokens.load("registration", token)
        payload, _sep, sig = token.rpartition(".")
        with pytest.raises(ValidationFailed):
            tokens.load("invitation", payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:])
        secret = app.config["SECRET_KEY"]
        app.config["SECRET_KEY"] = secret + "-rotated"
        try:
            with pytest.raises(ValidationFailed):
                tokens.load("invitation", token)  # the serializer follows the secret, not the first one
            assert tokens.load("invitation", tokens.make("invitation", {"i": 2})) == {"i": 2}
        finally:
            app.config["SECRET_KEY"] = secret
