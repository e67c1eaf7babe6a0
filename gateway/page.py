"""GET /: a small page to try /predict in a browser; GET /docs: Swagger UI over /openapi.json.

Everything either page loads is served by the gateway itself: the page's own files from
gateway/static/ (the app's static folder), Swagger UI's from the `swagger_ui_bundle` package under
/docs/assets/. No CDN, nothing fetched from another origin.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from swagger_ui_bundle import swagger_ui_path

from gateway.routes import route

blueprint = Blueprint("page", __name__)
# Swagger UI's dist files, as the package ships them (nested: `page.swagger_ui.static`).
swagger_ui = Blueprint("swagger_ui", __name__, static_folder=str(swagger_ui_path), static_url_path="/docs/assets")
blueprint.register_blueprint(swagger_ui)


@route(blueprint, "get", "/", "A page to try /predict in a browser", {200: (None, "HTML")}, media_type="text/html")
def index():
    return render_template("page.html")


@route(blueprint, "get", "/docs", "Swagger UI over this document", {200: (None, "HTML")}, media_type="text/html")
def api_docs():
    return render_template("docs.html")
