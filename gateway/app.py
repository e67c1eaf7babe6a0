"""Flask application factory: `gunicorn 'gateway.app:create_app()'`."""
from __future__ import annotations

from flask import Flask

from core.settings import Settings, get_settings
from gateway import (body_deadline, docs, feedback, health, instruments, metrics, models_view, observability, page,
                     predict, services, training)
from gateway.errors import register_error_handlers
from gateway.json_provider import OrjsonProvider

# The modules whose blueprints serve the routes, in the order they are registered (and documented).
VIEWS = (predict, feedback, health, training, models_view, metrics, docs, page)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = OrjsonProvider(app)
    services.init_app(app, settings, on_call=instruments.observe_call)
    observability.init_app(app)
    body_deadline.init_app(app, settings.gateway_body_seconds)
    for module in VIEWS:
        app.register_blueprint(module.blueprint)
    feedback.init_app(app)
    register_error_handlers(app)
    return app
