"""Health: GET /health (the gateway, TorchServe and each served model, as TorchServe reports them),
and the probes GET /livez (the process is alive) and GET /readyz (every served model answers in
time). Both judge the same models: the served_models setting."""
import time

from flask import Blueprint, jsonify

from core.errors import BackendError
from core.models import CANARY_LABELS, CANARY_TEXTS, FAST
from gateway.routes import route
from gateway.schemas import HealthResponse, LiveResponse, ReadyResponse
from gateway.services import current_settings, get_client

blueprint = Blueprint("health", __name__)


def _model_health(client, name: str) -> dict:
    try:
        description = client.describe(name)
    except BackendError as exc:
        return {"name": name, "deployed": None, "ready": False, "detail": str(exc)}
    if description is None:
        return {"name": name, "deployed": False, "ready": False}
    workers = description.get("workers", [])
    return {
        "name": name,
        "deployed": True,
        "version": description.get("modelVersion"),
        "ready": any(w.get("status") == "READY" for w in workers),
        "workers": [w.get("status") for w in workers],
    }


@route(blueprint, "get", "/health", "Readiness of TorchServe and each model",
       {200: (HealthResponse, "the fast model can answer"),
        503: (HealthResponse, "the fast model cannot answer; the body says why")})
def health():
    settings, client = current_settings(), get_client()
    torchserve_up = client.ping()
    models = {name: _model_health(client, name) for name in settings.served_models} if torchserve_up else {}
    fast_ready = models.get(FAST, {}).get("ready", False)
    if not torchserve_up:
        status = "down"
    elif all(model["ready"] for model in models.values()):
        status = "ok"
    else:
        status = "degraded"
    body = {"status": status, "gateway": "ok", "torchserve": "ok" if torchserve_up else "unreachable", "models": models}
    return jsonify(body), 200 if fast_ready else 503


@route(blueprint, "get", "/livez", "Liveness: the gateway process answers", {200: (LiveResponse, "alive")})
def livez():
    """The gateway process answers; says nothing of TorchServe (liveness must not restart the
    gateway because a model is slow)."""
    return jsonify({"status": "alive"})


@route(blueprint, "get", "/readyz", "Readiness: every served model answers a canned prediction in time",
       {200: (ReadyResponse, "ready"), 503: (ReadyResponse, "not ready; the body says why")})
def readyz():
    """200 only when every served model answers a canned prediction within the deadline."""
    settings, client = current_settings(), get_client()
    checks = {model: _canary(client, model, settings.readiness_timeout_seconds) for model in settings.served_models}
    ready = all(check["ready"] for check in checks.values())
    return jsonify({"status": "ready" if ready else "not_ready", "models": checks}), 200 if ready else 503


def _canary(client, model: str, timeout: float) -> dict:
    started = time.perf_counter()
    try:
        answer = client.predict(model, list(CANARY_TEXTS), timeout=timeout)
    except BackendError as exc:
        return {"ready": False, "detail": f"{exc.code}: {exc}"}
    labels = tuple(r.get("label") for r in answer.results)
    return {"ready": labels == CANARY_LABELS, "version": answer.version,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            **({} if labels == CANARY_LABELS else {"detail": f"canary labels {labels}"})}
