"""Each route is declared once, where its view is: `@route(blueprint, "post", "/predict", ...)` adds
the Flask URL rule and records the route's OpenAPI operation, from which gateway/openapi.py builds
the document. A test checks that Flask's URL map and the document list the same routes.

Paths are written in Flask's syntax (`/feedback/<int:feedback_id>`); `openapi_path` is the one
place that turns them into OpenAPI's (`/feedback/{feedback_id}`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

from flask import Blueprint
from pydantic import BaseModel

from core.settings import Settings
from gateway import schemas

Body = Union[type[BaseModel], tuple[type[BaseModel], ...]]  # a tuple: any one of them
Responses = dict[int, tuple[Union[type[BaseModel], None], str]]
_VARIABLE = re.compile(r"<(?:\w+:)?(\w+)>")  # a Flask rule's variable, with or without its converter


def openapi_path(rule: str) -> str:
    """A Flask rule in OpenAPI's path syntax: /train/<job_id> -> /train/{job_id}."""
    return _VARIABLE.sub(r"{\1}", rule)


@dataclass(frozen=True)
class Operation:
    method: str  # lower case
    rule: str  # Flask syntax: /train/<job_id>
    summary: str
    responses: Responses
    body: Body | Callable[[Settings], Body] | None = None  # a callable: built from the settings' limits
    body_required: bool = True
    token: str | None = None  # "adminToken" or "feedbackToken": the bearer token it needs
    parameters: tuple[dict, ...] = ()
    media_type: str = "application/json"  # of the 200 answer

    @property
    def path(self) -> str:
        return openapi_path(self.rule)

    def bodies(self, settings: Settings) -> tuple[type[BaseModel], ...]:
        body = self.body
        if body is not None and not isinstance(body, (type, tuple)):
            body = body(settings)
        return () if body is None else body if isinstance(body, tuple) else (body,)


_recorded: dict[Blueprint, list[Operation]] = {}  # in declaration order


def route(blueprint: Blueprint, method: str, rule: str, summary: str, responses: Responses, *,
          body: Body | Callable[[Settings], Body] | None = None, body_required: bool = True,
          token: str | None = None, parameters: tuple[dict, ...] | list[dict] = (),
          media_type: str = "application/json"):
    """Register the decorated view on `blueprint` for `method` and `rule`, and record its operation.
    Outermost decorator, as `@blueprint.post` would be."""
    declared = {p["name"] for p in parameters if p["in"] == "path"}
    if declared != set(_VARIABLE.findall(rule)):
        raise ValueError(f"{method} {rule}: path parameters declared {sorted(declared)}")
    operation = Operation(method.lower(), rule, summary, responses, body, body_required, token, tuple(parameters),
                          media_type)

    def register(view):
        blueprint.add_url_rule(rule, view_func=view, methods=[method.upper()])
        _recorded.setdefault(blueprint, []).append(operation)
        return view

    return register


def recorded(blueprint: Blueprint) -> list[Operation]:
    """The operations declared with `route` on `blueprint`."""
    return list(_recorded.get(blueprint, []))


def path_parameter(name: str, **schema) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_parameter(name: str, **schema) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def errors(*statuses: int) -> dict[int, tuple[type[BaseModel], str]]:
    """The error answers a route may give, each with the error body and what it means."""
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
