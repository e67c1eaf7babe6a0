"""Make one TorchServe serve what the registry says: the desired state lives in the model store.

TorchServe keeps its own model list and is not cluster-aware, so every server (every pod) runs
`reconcile` against the shared registry: register the serving version if it lacks it (from its
own view of the store, by file name, so no server ever writes into the store), make it the
default, and unload every other version but a /train job's candidate and, for one request
timeout after a promotion, the version it replaced (requests queued on it are answered first).
Otherwise one version of a model holds workers (memory stays flat across retrains); a rollback
registers the previous version again, which takes seconds. A promotion or rollback is a registry write; each server converges
on its next round (`python -m deploy reconcile`, every `reconcile_seconds`), including one that
was down or started mid-rollout.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core.errors import BackendError
from core.models import ModelName
from core.store import ModelStore
from core.torchserve import TorchServeClient

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    serving: dict[str, str | None] = field(default_factory=dict)  # model -> the default version now

    @property
    def converged(self) -> bool:
        return not self.errors


def registered_versions(client: TorchServeClient, model: ModelName) -> set[str]:
    return {d.get("modelVersion") for d in client.versions(model)}


def _registered(client: TorchServeClient, model: ModelName) -> tuple[set[str], str | None]:
    """The versions this server has of `model`, and its default one."""
    described = client.describe(model)
    if described is None:
        return set(), None
    return registered_versions(client, model), described.get("modelVersion")


def reconcile_model(store: ModelStore, client: TorchServeClient, model: ModelName, outcome: Outcome,
                    drain_seconds: float = 0.0) -> None:
    serving = store.serving(model)
    if serving and not (store.path / serving.file).is_file():
        serving = None
    registered, default = _registered(client, model)
    if serving and serving.version not in registered:
        client.register(serving.file, model)
        registered.add(serving.version)
        outcome.actions.append(f"registered {serving.tag}")
    if serving and default != serving.version:
        client.set_default(model, serving.version)
        outcome.actions.append(f"default {serving.tag}")
        default = serving.version
    keep = {default} | store.candidates(model)  # a job is trying those out
    replaced = store.draining(model, drain_seconds)
    if replaced is not None:
        keep.add(replaced.version)  # until the requests it had queued are answered
    for version in sorted(registered - keep):
        client.unregister(model, version)
        outcome.actions.append(f"unloaded {model}:{version}")
    outcome.serving[model] = default


def reconcile(store: ModelStore, client: TorchServeClient, models: list[ModelName],
              drain_seconds: float = 0.0) -> Outcome:
    """One round over `models`; a failure on one model is reported and retried next round. A version
    replaced less than `drain_seconds` ago stays loaded (pass the client's request timeout)."""
    outcome = Outcome()
    for model in models:
        try:
            reconcile_model(store, client, model, outcome, drain_seconds)
        except BackendError as exc:
            outcome.errors.append(f"{model}: {exc}")
            log.warning("reconcile %s: %s", model, exc)
    for action in outcome.actions:
        log.info("reconcile: %s", action)
    return outcome
