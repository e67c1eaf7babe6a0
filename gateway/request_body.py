"""A request's body into the contract's models (gateway/schemas.py): the Flask side of validation.

`request_json` reads the body as JSON whatever its Content-Type; `parse` validates it against a
model and turns the first problem into a 400 (InvalidRequest) that names the field at fault.
"""
from __future__ import annotations

from flask import request
from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest

_MESSAGES = {
    "missing": "is required",
    "string_pattern_mismatch": "must not be blank",
}


def request_json(empty=None):
    """The request body as JSON, whatever its Content-Type; None when it is not JSON (parse() then
    answers 400), `empty` when there is no body at all."""
    if empty is not None and not request.get_data():
        return empty
    try:
        return request.get_json(force=True, silent=True)
    except RecursionError:  # "[[[[...": the json module recurses, and silent= only covers ValueError
        raise InvalidRequest("body is JSON nested too deeply") from None


def parse(model: type[BaseModel], payload):
    """Validate a JSON payload, turning the first problem into a 400 (InvalidRequest)."""
    if not isinstance(payload, dict):
        raise InvalidRequest("body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest(error_message(exc), field=_field(exc)) from None


def _field(exc: ValidationError) -> str | None:
    loc = exc.errors()[0]["loc"]
    return str(loc[0]) if loc else None


def error_message(exc: ValidationError | InvalidRequest) -> str:
    """The first problem of a validation error, for people: "text[3]: must not be blank"."""
    if isinstance(exc, InvalidRequest):
        return str(exc)
    error = exc.errors()[0]
    # union tags ("one", "many") are pydantic's bookkeeping; list indexes help the client
    where = (_field(exc) or "body") + "".join(f"[{p}]" for p in error["loc"][1:] if isinstance(p, int))
    return f"{where}: {_MESSAGES.get(error['type'], error['msg'].removeprefix('Value error, '))}"
