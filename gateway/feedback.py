"""Feedback: POST /feedback stores labels for served predictions and new labelled texts (what the
next /train learns from), GET /feedback/stats counts them, GET /feedback/export pages through them,
DELETE /feedback/<id> and DELETE /predictions/<request_id> erase them. Thin views over
core/feedback.py; each database call runs in the blocking pool (gateway/blocking.py).

POST /feedback takes the feedback token (or the admin token) and is rate-limited per client; the
rest take the admin token: they read or erase what users sent.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, jsonify, request
from flask_limiter import Limiter
from pydantic import ValidationError

from core.errors import Conflict, InvalidRequest, NotFound
from core.feedback import FeedbackItem, Outcome
from core.settings import Settings
from gateway import instruments
from gateway.auth import bearer_token, require_admin, require_feedback
from gateway.blocking import run_blocking
from gateway.observability import REQUEST_ID_PATTERN, note
from gateway.request_body import error_message, parse, request_json
from gateway.routes import errors, path_parameter, query_parameter, route
from gateway.schemas import (DEFAULT_SOURCE, Deleted, Erased, FeedbackExport, FeedbackOutcome, FeedbackResponse,
                             FeedbackStats, feedback_batch_model, feedback_item_model)
from gateway.services import current_settings, get_feedback
from gateway import retrain_trigger

blueprint = Blueprint("feedback", __name__)
EXPORT_PAGE = 1000
ITEM_ERRORS = {"unknown_prediction": NotFound, "text_not_kept": Conflict}  # a single item's, as HTTP errors


def _client_key() -> str:
    """Who a rate limit counts: the token (hashed: never kept) and the address."""
    return hashlib.sha256(bearer_token().encode()).hexdigest()[:16] + "@" + (request.remote_addr or "-")


limiter = Limiter(key_func=_client_key, storage_uri="memory://", headers_enabled=True, default_limits=[])


def init_app(app: Flask) -> None:
    limiter.init_app(app)


def item_model(settings: Settings):
    return feedback_item_model(settings.max_text_chars)


def batch_model(settings: Settings):
    return feedback_batch_model(settings.feedback_max_items)


@route(blueprint, "post", "/feedback", "Label a served prediction ({request_id, index, label}) or a new text "
       "({text, label}); one item, or {items: [...]}",
       {200: (FeedbackResponse, "a list: each item's outcome in order; one item: a duplicate"),
        201: (FeedbackOutcome, "one item, stored"), **errors(400, 401, 404, 409, 413, 429)},
       body=lambda settings: (item_model(settings), batch_model(settings)), token="feedbackToken")
@limiter.limit(lambda: current_settings().feedback_rate_limit)
@require_feedback
def add_feedback():
    settings = current_settings()
    payload, one_item = request_json(), item_model(settings)
    single = not (isinstance(payload, dict) and "items" in payload)
    if single:
        raw_items, default_source = [parse(one_item, payload)], DEFAULT_SOURCE
    else:
        batch = parse(batch_model(settings), payload)
        raw_items, default_source = batch.items, batch.source or DEFAULT_SOURCE
    outcomes: list[Outcome | None] = []
    items: list[FeedbackItem] = []
    for raw in raw_items:
        try:
            item = raw if single else one_item.model_validate(raw)
        except (ValidationError, InvalidRequest) as exc:
            outcomes.append(Outcome("error", code="invalid_request", message=error_message(exc)))
            continue
        outcomes.append(None)
        items.append(FeedbackItem(label=item.label_index, source=item.source or default_source,
                                  request_id=item.request_id, item=item.index, text=item.text))
    stored = iter(run_blocking(get_feedback().add, items, settings.feedback_max_rows) if items else [])
    outcomes = [outcome or next(stored) for outcome in outcomes]
    for outcome in outcomes:
        instruments.FEEDBACK_ITEMS.labels(outcome.code or outcome.status).inc()
    note(texts=len(outcomes))
    if any(o.status == "stored" for o in outcomes):
        retrain_trigger.maybe_start()
    if single:
        outcome = outcomes[0]
        if outcome.status == "error":
            raise ITEM_ERRORS.get(outcome.code, InvalidRequest)(outcome.message, code=outcome.code)
        return jsonify(outcome.as_dict()), 201 if outcome.status == "stored" else 200
    counts = {status: sum(o.status == status for o in outcomes) for status in ("stored", "duplicate", "error")}
    return jsonify({"stored": counts["stored"], "duplicate": counts["duplicate"], "errors": counts["error"],
                    "items": [o.as_dict() for o in outcomes]})


@route(blueprint, "get", "/feedback/stats", "Feedback counts by label, source, model version; quarantined rows",
       {200: (FeedbackStats, "the counts"), **errors(401)}, token="adminToken")
@require_admin
def stats():
    return jsonify(run_blocking(get_feedback().stats))


@route(blueprint, "get", "/feedback/export", f"Feedback rows, oldest first, {EXPORT_PAGE} a page",
       {200: (FeedbackExport, "a page"), **errors(400, 401)}, token="adminToken",
       parameters=[query_parameter("after", type="integer", minimum=0)])
@require_admin
def export():
    after = request.args.get("after", "0")
    if not after.isdigit():
        raise InvalidRequest("after: must be a feedback id (a whole number)", field="after")
    rows = run_blocking(get_feedback().export, int(after), EXPORT_PAGE)
    return jsonify({"items": rows, "next_after": rows[-1]["id"] if len(rows) == EXPORT_PAGE else None})


@route(blueprint, "delete", "/feedback/<int:feedback_id>", "Delete one feedback row",
       {200: (Deleted, "deleted"), **errors(401, 404)}, token="adminToken",
       parameters=[path_parameter("feedback_id", type="integer", minimum=0)])
@require_admin
def delete_feedback(feedback_id: int):
    if not run_blocking(get_feedback().delete, feedback_id):
        raise NotFound("no feedback with that id", code="no_feedback", field="id")
    return jsonify({"id": feedback_id, "deleted": True})


@route(blueprint, "delete", "/predictions/<request_id>", "Erase a request: its logged predictions and the "
       "feedback that names it", {200: (Erased, "what was deleted"), **errors(401)}, token="adminToken",
       parameters=[path_parameter("request_id", type="string", pattern=REQUEST_ID_PATTERN)])
@require_admin
def erase_request(request_id: str):
    """Erasure: a request's logged predictions and every feedback row that names it."""
    return jsonify(run_blocking(get_feedback().erase_request, request_id))
