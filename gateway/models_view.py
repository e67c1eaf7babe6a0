"""GET /models: each model's serving and previous versions (from the registry), what TorchServe
runs (registered versions, worker count and states), and per version the live signals this gateway
counted (gateway/live_signals.py) beside the reference recorded when it was archived."""
from flask import Blueprint, jsonify

from core.errors import BackendError
from core.models import MODELS
from core.store import Version
from gateway.live_signals import live_values
from gateway.instruments import counted
from gateway.routes import route
from gateway.schemas import ModelsResponse
from gateway.services import get_client, get_store

blueprint = Blueprint("models", __name__)


def _version(version: Version | None, live: dict) -> dict | None:
    if version is None:
        return None
    info = version.info
    return {"version": version.version, "archive": version.file, "test_accuracy": info.get("test_accuracy"),
            "test_rows": info.get("test_rows"), "train_rows": info.get("train_rows"),
            "created": info.get("created"), "data_blob_ids": info.get("data_blob_ids"), "feedback": info.get("feedback"),
            "reference": info.get("reference"), "live": live.get(version.model, {}).get(version.version)}


def _running(client, model: str) -> dict:
    try:
        described, default = client.versions(model), client.describe(model)
    except BackendError as exc:
        return {"reachable": False, "detail": str(exc)}
    workers = (default or {}).get("workers", [])
    return {"reachable": True, "registered_versions": sorted(d.get("modelVersion") for d in described),
            "default_version": (default or {}).get("modelVersion"),
            "workers": len(workers), "worker_states": [w.get("status") for w in workers]}


@route(blueprint, "get", "/models", "Each model's serving and previous version and what TorchServe runs",
       {200: (ModelsResponse, "one entry per model")})
def models():
    store, client, live = get_store(), get_client(), live_values(counted())
    return jsonify({model: {"serving": _version(store.serving(model), live),
                            "previous": _version(store.previous(model), live),
                            "torchserve": _running(client, model)}
                    for model in MODELS})
