"""Per request: an id (X-Request-Id, accepted or generated, echoed, passed to TorchServe), metrics,
and one JSON log line: request id, endpoint, model, version, number of texts, status, latency.

Views say what they served with `note(model=..., version=..., texts=...)`."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

from gateway import instruments

log = logging.getLogger("gateway.request")
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_SAFE_ID = re.compile(REQUEST_ID_PATTERN)  # anything else is replaced, never logged raw


def request_id() -> str:
    return g.get("request_id") or "-"


def note(**fields) -> None:
    """What this request served (model, version, texts), for its metrics and log line."""
    g.served = {**g.get("served", {}), **fields}


def init_app(app: Flask) -> None:
    @app.before_request
    def start():
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        served = g.get("served", {})
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        model = served.get("model", "none")
        if endpoint != "/metrics":  # scrapes would drown the traffic they measure
            instruments.observe(endpoint, model, response.status_code, seconds)
        response.headers[REQUEST_ID_HEADER] = request_id()
        if served.get("version"):
            response.headers["X-Model-Version"] = served["version"]
        log.info("request", extra={"request_id": request_id(), "method": request.method, "endpoint": endpoint,
                                   "model": model, "version": served.get("version"), "texts": served.get("texts"),
                                   "status": response.status_code, "latency_ms": round(seconds * 1000, 2)})
        return response
