"""Flask application factory: `gunicorn 'gateway.app:create_app()'`."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

from gateway import health, openapi, predict, training
from gateway.auth import load_or_create_token
from gateway.errors import ApiError
from gateway.settings import GatewaySettings
from gateway.torchserve import BackendError, BackendTimeout, BackendUnavailable, ModelNotDeployed, TorchServeClient

log = logging.getLogger(__name__)


def _backend_error(exc: BackendError) -> ApiError:
    if isinstance(exc, ModelNotDeployed):
        return ApiError(503, "model_not_deployed", f"{exc}; deploy it (see README) or use the other model")
    if isinstance(exc, BackendTimeout):
        return ApiError(504, "backend_timeout", str(exc))
    if isinstance(exc, BackendUnavailable):
        return ApiError(503, "backend_unavailable", str(exc))
    return ApiError(502, "backend_error", str(exc))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, lambda exc: exc.response())
    app.register_error_handler(BackendError, lambda exc: _backend_error(exc).response())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {413: "body_too_large"}.get(exc.code, (exc.name or "error").lower().replace(" ", "_"))
        message = exc.description if exc.code != 413 else (
            f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes")
        # keep what HTTP requires of the status (Allow on 405), not the HTML body's content type
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return ApiError(exc.code or 500, code, message).response(headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return ApiError(500, "internal_error", "internal error; see the gateway log").response()


def create_app(settings: GatewaySettings | None = None) -> Flask:
    settings = settings or GatewaySettings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # "10" must follow "9", not "1"
    app.json.ensure_ascii = False
    app.extensions["torchserve"] = TorchServeClient(
        settings.inference_url, settings.management_url, settings.key_file, settings.timeout_seconds)
    app.register_blueprint(predict.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(training.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.extensions["openapi"] = openapi.build_document(settings)
    settings.job_dir.mkdir(parents=True, exist_ok=True)
    app.config["ADMIN_TOKEN"] = settings.admin_token or load_or_create_token(settings.admin_token_file)
    register_error_handlers(app)
    return app
