"""GET /health: the gateway, TorchServe and each model's readiness, in one answer."""
from flask import Blueprint, current_app, jsonify

from gateway.torchserve import BackendError

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


@blueprint.get("/health")
def health():
    settings = current_app.config["SETTINGS"]
    client = current_app.extensions["torchserve"]
    torchserve_up = client.ping()
    models = {}
    if torchserve_up:
        models = {"fast": _model_health(client, settings.fast_model),
                  "accurate": _model_health(client, settings.accurate_model)}
    fast_ready = models.get("fast", {}).get("ready", False)
    if not torchserve_up:
        status = "down"
    elif fast_ready and models["accurate"]["ready"]:
        status = "ok"
    else:
        status = "degraded"
    body = {"status": status, "gateway": "ok", "torchserve": "ok" if torchserve_up else "unreachable", "models": models}
    return jsonify(body), 200 if fast_ready else 503
