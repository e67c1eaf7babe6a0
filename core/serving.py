"""Changing what TorchServe serves, always together with the registry: promote, roll back, unload.

Rollout and rollback share `promote`: make sure the version is registered, make it TorchServe's
default (atomic for clients: the old version answers until the switch), record it in the registry,
and unload every version but the serving and previous ones.
"""
from __future__ import annotations

import logging

from core.errors import BackendError
from core.models import CANARY_LABELS, CANARY_TEXTS, ModelName
from core.store import ModelStore, Version
from core.torchserve import TorchServeClient

log = logging.getLogger(__name__)


def registered_versions(client: TorchServeClient, model: ModelName) -> set[str]:
    return {d.get("modelVersion") for d in client.versions(model)}


def ensure_registered(client: TorchServeClient, version: Version) -> None:
    if version.version not in registered_versions(client, version.model):
        client.register(version.file, version.model)


def smoke_test(client: TorchServeClient, version: Version) -> None:
    """The version labels the canary reviews right, asked directly (not through the default)."""
    results = client.predict(version.model, list(CANARY_TEXTS), version=version.version).results
    if tuple(r.get("label") for r in results) != CANARY_LABELS:
        raise BackendError(f"{version.tag} mislabels the smoke-test reviews: {results}")


def promote(store: ModelStore, client: TorchServeClient, version: Version) -> None:
    ensure_registered(client, version)
    client.set_default(version.model, version.version)
    store.promote(version.model, version.version)
    log.info("serving %s", version.tag)
    retire(store, client, version.model)


def rollback(store: ModelStore, client: TorchServeClient, model: ModelName) -> tuple[Version, Version]:
    """Serve the previous version again; returns (now serving, now previous)."""
    target, current = store.rollback_target(model), store.serving(model)
    promote(store, client, target)
    return target, current


def retire(store: ModelStore, client: TorchServeClient, model: ModelName) -> None:
    """Keep the serving and previous versions registered (instant rollback); unload the rest."""
    keep = {v.version for v in (store.serving(model), store.previous(model)) if v}
    for version in registered_versions(client, model) - keep:
        client.unregister(model, version)
        log.info("unloaded %s:%s", model, version)


def discard(client: TorchServeClient, version: Version) -> None:
    """Unload a candidate that will not be served (gated out or failed); its archive stays."""
    try:
        client.unregister(version.model, version.version)
    except BackendError as exc:
        log.warning("could not unload %s: %s", version.tag, exc)
