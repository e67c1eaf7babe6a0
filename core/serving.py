"""Changing what is served: promote, roll back, smoke-test and discard candidates.

Rollout and rollback share `promote`: make sure this server has the version registered (so a
version that cannot load is never recorded), record it as serving in the registry (the desired
state, shared by every server), then reconcile this server at once (set-default, atomic for
clients; the replaced version is unloaded once it has drained). Other servers follow the
registry on their own reconcile round (core/reconcile.py).
"""
from __future__ import annotations

import logging

from core.errors import BackendError
from core.models import CANARY_LABELS, CANARY_TEXTS, ModelName
from core.reconcile import reconcile, registered_versions
from core.store import CANDIDATE, ModelStore, Version
from core.torchserve import TorchServeClient

log = logging.getLogger(__name__)


def ensure_registered(store: ModelStore, client: TorchServeClient, version: Version) -> None:
    """Load `version` on this server if it is not. While it loads it is a candidate in the registry,
    so this server's reconciler (which unloads what is not served) leaves it alone."""
    if version.version in registered_versions(client, version.model):
        return
    stage = version.info.get("stage")
    store.set_stage(version.model, version.version, CANDIDATE)
    try:
        client.register(version.file, version.model)
    except BackendError:
        store.set_stage(version.model, version.version, stage)
        raise


def smoke_test(client: TorchServeClient, version: Version) -> None:
    """The version labels the canary reviews right, asked directly (not through the default)."""
    results = client.predict(version.model, list(CANARY_TEXTS), version=version.version).results
    if tuple(r.get("label") for r in results) != CANARY_LABELS:
        raise BackendError(f"{version.tag} mislabels the smoke-test reviews: {results}")


def promote(store: ModelStore, client: TorchServeClient, version: Version) -> None:
    ensure_registered(store, client, version)
    store.promote(version.model, version.version)
    log.info("serving %s", version.tag)
    outcome = reconcile(store, client, [version.model], drain_seconds=client.timeout)
    if not outcome.converged:
        raise BackendError(f"{version.tag} is recorded as serving, but this server did not switch: "
                           f"{'; '.join(outcome.errors)} (its reconcile loop retries)")


def rollback(store: ModelStore, client: TorchServeClient, model: ModelName) -> tuple[Version, Version]:
    """Serve the previous version again; returns (now serving, now previous)."""
    target, current = store.rollback_target(model), store.serving(model)
    promote(store, client, target)
    return target, current


def discard(store: ModelStore, client: TorchServeClient, version: Version) -> None:
    """Unload a candidate that will not be served (gated out or failed); its archive stays."""
    store.reject(version.model, version.version)
    try:
        client.unregister(version.model, version.version)
    except BackendError as exc:
        log.warning("could not unload %s: %s", version.tag, exc)
