"""Flask application factory: `gunicorn 'gateway.app:create_app()'`."""
from __future__ import annotations

from flask import Flask

from core.settings import Settings, get_settings
from gateway import body_deadline, docs, health, metrics, models_view, observability, page, predict, services, training
from gateway.errors import register_error_handlers


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # "10" must follow "9", not "1"
    app.json.ensure_ascii = False
    services.init_app(app, settings)
    observability.init_app(app)
    body_deadline.init_app(app, settings.gateway_body_seconds)
    for module in (predict, health, training, models_view, metrics, docs, page):
        app.register_blueprint(module.blueprint)
    register_error_handlers(app)
    return app
