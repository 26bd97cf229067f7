"""Domain errors raised by services; views (or the app's error handler) turn them into a
message and a status code."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str = "", *, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field_errors = field_errors or {}


class ValidationFailed(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class NotAllowed(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409
