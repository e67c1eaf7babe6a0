"""GET /models: each model's serving and previous versions (from the registry) and what TorchServe
runs (registered versions, worker count and states)."""
from flask import Blueprint, jsonify

from core.errors import BackendError
from core.models import MODELS
from core.store import Version
from gateway.services import get_client, get_store

blueprint = Blueprint("models", __name__)


def _version(version: Version | None) -> dict | None:
    if version is None:
        return None
    info = version.info
    return {"version": version.version, "archive": version.file, "test_accuracy": info.get("test_accuracy"),
            "test_rows": info.get("test_rows"), "train_rows": info.get("train_rows"),
            "created": info.get("created"), "data_blob_ids": info.get("data_blob_ids")}


def _running(client, model: str) -> dict:
    try:
        described, default = client.versions(model), client.describe(model)
    except BackendError as exc:
        return {"reachable": False, "detail": str(exc)}
    workers = (default or {}).get("workers", [])
    return {"reachable": True, "registered_versions": sorted(d.get("modelVersion") for d in described),
            "default_version": (default or {}).get("modelVersion"),
            "workers": len(workers), "worker_states": [w.get("status") for w in workers]}


@blueprint.get("/models")
def models():
    store, client = get_store(), get_client()
    return jsonify({model: {"serving": _version(store.serving(model)), "previous": _version(store.previous(model)),
                            "torchserve": _running(client, model)}
                    for model in MODELS})
