"""The OpenAPI 3.1 document served at /openapi.json, generated from the models in gateway/schemas.py.

Every route is declared once in OPERATIONS below; a test checks that the table and Flask's URL map
list the same routes, and the fuzz tests hold live responses to the declared schemas.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from core.jobs import JOB_ID
from core.models import MODELS
from core.settings import Settings
from gateway import schemas

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI syntax: /train/{job_id}
    summary: str
    responses: dict[int, tuple[type[BaseModel] | None, str]]
    body: type[BaseModel] | None = None
    admin: bool = False
    parameters: list[dict] = field(default_factory=list)
    media_type: str = "application/json"  # of the 200 answer


def _errors(*statuses: int) -> dict[int, tuple[type[BaseModel], str]]:
    described = {
        400: "invalid request (error.field names the culprit)",
        401: "missing or wrong admin token",
        404: "no such resource",
        409: "conflicts with the current state (error.code says how)",
        413: "request body too large",
        502: "TorchServe answered with an error",
        503: "TorchServe or the model is unavailable",
        504: "TorchServe did not answer in time",
    }
    return {status: (schemas.ErrorResponse, described[status]) for status in statuses}


def operations(settings: Settings) -> list[Operation]:
    job_id = {"name": "job_id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": JOB_ID.pattern}}
    model_name = {"name": "name", "in": "path", "required": True,
                  "schema": {"type": "string", "enum": [m for m, spec in MODELS.items() if spec.retrainable]}}
    predict_body = schemas.predict_request_model(settings.max_texts, settings.max_text_chars, settings.max_explain_texts)
    return [
        Operation("post", "/predict", "Label one review or a list of reviews",
                  {200: (schemas.PredictResponse, "a label and confidence per review"),
                   **_errors(400, 413, 502, 503, 504)}, body=predict_body),
        Operation("get", "/health", "Readiness of TorchServe and each model",
                  {200: (schemas.HealthResponse, "the fast model can answer"),
                   503: (schemas.HealthResponse, "the fast model cannot answer; the body says why")}),
        Operation("post", "/train", "Retrain the fast model and roll the new version out",
                  {200: (schemas.JobStatusResponse, "with wait=true: the finished job"),
                   202: (schemas.JobStatusResponse, "the job started; poll status_url"),
                   **_errors(400, 401, 409, 413)}, body=schemas.TrainRequest, admin=True),
        Operation("get", "/train", "The latest training job", {200: (schemas.JobStatusResponse, "the job"),
                                                               **_errors(404)}),
        Operation("get", "/train/{job_id}", "One training job", {200: (schemas.JobStatusResponse, "the job"),
                                                                 **_errors(404)}, parameters=[job_id]),
        Operation("post", "/models/{name}/rollback", "Serve the previous version of a model again",
                  {200: (schemas.RollbackResponse, "the versions now serving and previous"),
                   **_errors(401, 404, 409, 502, 503, 504)}, admin=True, parameters=[model_name]),
        Operation("get", "/models", "Each model's serving and previous version and what TorchServe runs",
                  {200: (schemas.ModelsResponse, "one entry per model")}),
        Operation("get", "/livez", "Liveness: the gateway process answers", {200: (schemas.LiveResponse, "alive")}),
        Operation("get", "/readyz", "Readiness: every served model answers a canned prediction in time",
                  {200: (schemas.ReadyResponse, "ready"), 503: (schemas.ReadyResponse, "not ready; the body says why")}),
        Operation("get", "/metrics", "Prometheus metrics", {200: (None, "Prometheus text format")},
                  media_type="text/plain"),
        Operation("get", "/openapi.json", "This document", {200: (None, "the OpenAPI document")}),
        Operation("get", "/", "A page to try /predict in a browser", {200: (None, "HTML")}, media_type="text/html"),
        Operation("get", "/docs", "Swagger UI over this document", {200: (None, "HTML")}, media_type="text/html"),
    ]


def build_document(settings: Settings) -> dict:
    ops = operations(settings)
    models = {m for op in ops for m, _ in op.responses.values() if m} | {op.body for op in ops if op.body}
    keys, definitions = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF)
    paths: dict[str, dict] = {}
    for op in ops:
        entry = {"summary": op.summary, "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}",
                 "responses": {}}
        if op.parameters:
            entry["parameters"] = op.parameters
        if op.body:
            entry["requestBody"] = {"required": op.body is not schemas.TrainRequest, "content": {
                "application/json": {"schema": keys[(op.body, "validation")]}}}
        if op.admin:
            entry["security"] = [{"adminToken": []}]
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
                                               "description": "SENTIMENT_ADMIN_TOKEN or <run_dir>/admin_token"}},
        },
    }
