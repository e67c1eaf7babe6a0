"""The OpenAPI 3.1 document served at /openapi.json, generated from the models in gateway/schemas.py.

Each route declares its operation where its view is (`@route`, gateway/routes.py); the document is
built from those. A test checks that the document and Flask's URL map list the same routes, and
the fuzz tests hold live responses to the declared schemas.
"""
from __future__ import annotations

import copy

from pydantic.json_schema import models_json_schema

from core.settings import Settings
from gateway.routes import Operation, recorded

REF = "#/components/schemas/{model}"


def operations() -> list[Operation]:
    """Every route's operation, in the order the app registers the blueprints."""
    from gateway.app import VIEWS  # not at the top: the views import gateway.services, which imports this module

    return [op for view in VIEWS for op in recorded(view.blueprint)]


def build_document(settings: Settings) -> dict:
    ops = operations()
    models = {m for op in ops for m, _ in op.responses.values() if m} | {b for op in ops for b in op.bodies(settings)}
    keys, definitions = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF)
    paths: dict[str, dict] = {}
    for op in ops:
        entry = {"summary": op.summary, "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}",
                 "responses": {}}
        if op.parameters:
            entry["parameters"] = copy.deepcopy(list(op.parameters))
        if op.body:
            schemas_of = [keys[(b, "validation")] for b in op.bodies(settings)]
            entry["requestBody"] = {"required": op.body_required, "content": {
                "application/json": {"schema": schemas_of[0] if len(schemas_of) == 1 else {"anyOf": schemas_of}}}}
        if op.token:
            entry["security"] = [{op.token: []}] + ([{"adminToken": []}] if op.token != "adminToken" else [])
        for status, (model, description) in sorted(op.responses.items()):
            media = op.media_type if status == 200 else "application/json"
            schema = (keys[(model, "validation")] if model
                      else {"type": "object" if media == "application/json" else "string"})
            entry["responses"][str(status)] = {"description": description, "content": {media: {"schema": schema}}}
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Korean movie-review sentiment gateway", "version": "1.0.0",
                 "description": "Every error answers {\"error\": {\"code\", \"message\", \"field\"}}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer",
                                               "description": "SENTIMENT_ADMIN_TOKEN or <run_dir>/admin_token"},
                                "feedbackToken": {"type": "http", "scheme": "bearer", "description":
                                                  "SENTIMENT_FEEDBACK_TOKEN or <run_dir>/feedback_token"}},
        },
    }
