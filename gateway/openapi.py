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
from gateway.observability import REQUEST_ID_PATTERN

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI syntax: /train/{job_id}
    summary: str
    responses: dict[int, tuple[type[BaseModel] | None, str]]
    body: type[BaseModel] | tuple[type[BaseModel], ...] | None = None  # a tuple: any one of them
    token: str | None = None  # "adminToken" or "feedbackToken": the bearer token it needs
    parameters: list[dict] = field(default_factory=list)
    media_type: str = "application/json"  # of the 200 answer


def _errors(*statuses: int) -> dict[int, tuple[type[BaseModel], str]]:
    described = {
        400: "invalid request (error.field names the culprit)",
        401: "missing or wrong token",
        404: "no such resource",
        409: "conflicts with the current state (error.code says how)",
        413: "request body too large",
        429: "too many requests from this client; retry after the Retry-After header's seconds",
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
    feedback_item = schemas.feedback_item_model(settings.max_text_chars)
    feedback_batch = schemas.feedback_batch_model(settings.feedback_max_items)
    feedback_id = {"name": "feedback_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    request_id = {"name": "request_id", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN}}
    after = {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}}
    return [
        Operation("post", "/predict", "Label one review or a list of reviews",
                  {200: (schemas.PredictResponse, "a label and confidence per review"),
                   **_errors(400, 413, 502, 503, 504)}, body=predict_body),
        Operation("post", "/feedback", "Label a served prediction ({request_id, index, label}) or a new text "
                  "({text, label}); one item, or {items: [...]}",
                  {200: (schemas.FeedbackResponse, "a list: each item's outcome in order; one item: a duplicate"),
                   201: (schemas.FeedbackOutcome, "one item, stored"),
                   **_errors(400, 401, 404, 409, 413, 429)}, body=(feedback_item, feedback_batch),
                  token="feedbackToken"),
        Operation("get", "/feedback/stats", "Feedback counts by label, source, model version; quarantined rows",
                  {200: (schemas.FeedbackStats, "the counts"), **_errors(401)}, token="adminToken"),
        Operation("get", "/feedback/export", "Feedback rows, oldest first, 1000 a page",
                  {200: (schemas.FeedbackExport, "a page"), **_errors(400, 401)}, token="adminToken",
                  parameters=[after]),
        Operation("delete", "/feedback/{feedback_id}", "Delete one feedback row",
                  {200: (schemas.Deleted, "deleted"), **_errors(401, 404)}, token="adminToken",
                  parameters=[feedback_id]),
        Operation("delete", "/predictions/{request_id}", "Erase a request: its logged predictions and the "
                  "feedback that names it", {200: (schemas.Erased, "what was deleted"), **_errors(401)},
                  token="adminToken", parameters=[request_id]),
        Operation("get", "/health", "Readiness of TorchServe and each model",
                  {200: (schemas.HealthResponse, "the fast model can answer"),
                   503: (schemas.HealthResponse, "the fast model cannot answer; the body says why")}),
        Operation("post", "/train", "Retrain the fast model and roll the new version out",
                  {200: (schemas.JobStatusResponse, "with wait=true: the finished job"),
                   202: (schemas.JobStatusResponse, "the job started; poll status_url"),
                   **_errors(400, 401, 409, 413)}, body=schemas.TrainRequest, token="adminToken"),
        Operation("get", "/train", "The latest training job", {200: (schemas.JobStatusResponse, "the job"),
                                                               **_errors(404)}),
        Operation("get", "/train/{job_id}", "One training job", {200: (schemas.JobStatusResponse, "the job"),
                                                                 **_errors(404)}, parameters=[job_id]),
        Operation("post", "/models/{name}/rollback", "Serve the previous version of a model again",
                  {200: (schemas.RollbackResponse, "the versions now serving and previous"),
                   **_errors(401, 404, 409, 502, 503, 504)}, token="adminToken", parameters=[model_name]),
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


def _bodies(op: Operation) -> tuple[type[BaseModel], ...]:
    return () if op.body is None else op.body if isinstance(op.body, tuple) else (op.body,)


def build_document(settings: Settings) -> dict:
    ops = operations(settings)
    models = {m for op in ops for m, _ in op.responses.values() if m} | {b for op in ops for b in _bodies(op)}
    keys, definitions = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF)
    paths: dict[str, dict] = {}
    for op in ops:
        entry = {"summary": op.summary, "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}",
                 "responses": {}}
        if op.parameters:
            entry["parameters"] = op.parameters
        if op.body:
            schemas_of = [keys[(b, "validation")] for b in _bodies(op)]
            entry["requestBody"] = {"required": op.body is not schemas.TrainRequest, "content": {
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
