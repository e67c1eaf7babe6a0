"""The service's one error type. Each subclass is a kind of failure; the gateway maps kinds to HTTP
statuses in one table (gateway/errors.py), and every answer has the shape
{"error": {"code", "message", "field", ...extra}}."""
from __future__ import annotations


class ServiceError(Exception):
    """A failure with a message for people, a stable machine-readable `code` (the class's default
    unless given), and the request field at fault (if any); `extra` keys go into the error body
    (e.g. job_id). Every error class takes the message first and the rest by keyword."""

    default_code = "internal_error"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None, **extra):
        super().__init__(message)
        self.code = code or self.default_code
        self.message, self.field, self.extra = message, field, extra


class InvalidRequest(ServiceError):
    default_code = "invalid_request"


class Unauthorized(ServiceError):
    default_code = "unauthorized"


class NotFound(ServiceError):
    default_code = "not_found"


class RequestTimeout(ServiceError):
    """The client did not send its whole request in time; the connection is closed."""

    default_code = "request_timeout"


class Conflict(ServiceError):
    """The request conflicts with the current state (a job running, nothing to roll back to)."""


class BackendError(ServiceError):
    """TorchServe answered with an error the client cannot fix."""

    default_code = "backend_error"
    kind = "error"  # the metrics label (gateway: sentiment_backend_errors_total)

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.status = status  # TorchServe's HTTP status, when it answered


class BackendUnavailable(BackendError):
    """TorchServe is down, starting, or has no free worker."""

    default_code = "backend_unavailable"
    kind = "unavailable"


class BackendTimeout(BackendError):
    """TorchServe did not answer in time."""

    default_code = "backend_timeout"
    kind = "timeout"


class ModelNotDeployed(BackendUnavailable):
    """No model of that name is registered."""

    default_code = "model_not_deployed"
    kind = "not_deployed"


class ConfigurationError(ServiceError):
    """The settings ask for something that cannot work (e.g. SQLite shared by several stacks)."""

    default_code = "configuration_error"



class DatabaseUnavailable(ServiceError):
    """The database (the prediction log and feedback) did not answer or refused the connection."""

    default_code = "database_unavailable"
