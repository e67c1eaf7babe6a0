"""Errors to HTTP, in one place: each kind of core.errors.ServiceError has one status, and every
answer has the shape {"error": {"code", "message", "field", ...extra}}; never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from core import errors
from core.redact import redact_paths
from gateway.instruments import BACKEND_ERRORS

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ServiceError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthorized: 401,
    errors.NotFound: 404,
    errors.RequestTimeout: 408,
    errors.Conflict: 409,
    errors.DatabaseUnavailable: 503,
    errors.ModelNotDeployed: 503,
    errors.BackendUnavailable: 503,
    errors.BackendTimeout: 504,
    errors.BackendError: 502,
}


def status_of(exc: errors.ServiceError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def error_response(status: int, code: str, message: str, field: str | None = None, headers=None, **extra):
    body = {"error": {"code": code, "message": redact_paths(message), "field": field, **extra}}
    return jsonify(body), status, headers or {}


def _service_error(exc: errors.ServiceError):
    message = str(exc)
    if isinstance(exc, errors.BackendError):
        BACKEND_ERRORS.labels(exc.kind).inc()
    if isinstance(exc, errors.ModelNotDeployed):
        message += "; deploy it (see README) or use the other model"
    return error_response(status_of(exc), exc.code, message, exc.field, **exc.extra)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(errors.ServiceError, _service_error)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {413: "body_too_large", 429: "rate_limited"}.get(exc.code, (exc.name or "error").lower().replace(" ", "_"))
        message = {413: f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
                   429: f"more than {exc.description} from this client; retry after the Retry-After header's "
                        "seconds"}.get(exc.code, exc.description)
        # keep what HTTP requires of the status (Allow on 405), not the HTML body's content type
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(exc.code or 500, code, message, headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the gateway log")
