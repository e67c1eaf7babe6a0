"""The model store: archives by model name and version, and which version is served.

    <store>/fast.mar, fast.v2.mar, accurate.mar, ...      the archives (never overwritten by rollouts)
    <store>/registry.json                                  {"fast": {"serving": "2", "previous": "1",
                                                             "versions": {"1": {"file": ..., "test_accuracy": ...}}}}

In the spirit of BentoML's model store: `add_version` records an archive, `promote` makes a version
the served one, `rollback_target` names the one a rollback returns to, `versions` lists them.
The registry is the desired state: TorchServe is started from it and follows it (core/serving.py).
Every change is a read-modify-write under a file lock, replaced atomically.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from core.errors import Conflict
from core.files import write_json_atomic
from core.models import LEGACY_NAMES, ModelName

log = logging.getLogger(__name__)
REGISTRY_FILE = "registry.json"
LOCK_FILE = ".registry.lock"
RECORDED_METRICS = ("test_accuracy", "test_rows", "train_rows", "created", "data_blob_ids", "reference", "feedback")
CANDIDATE, REJECTED = "candidate", "rejected"  # stages of a version a /train job is trying out


@dataclass(frozen=True)
class Version:
    model: ModelName
    version: str
    file: str
    info: dict

    @property
    def tag(self) -> str:
        return f"{self.model}:{self.version}"


class ModelStore:
    def __init__(self, path: Path):
        self.path = Path(path)

    # ---- reading -------------------------------------------------------------------------------
    def _read(self) -> dict:
        registry = self.path / REGISTRY_FILE
        return json.loads(registry.read_text()) if registry.exists() else {}

    def _entry(self, data: dict, model: ModelName) -> dict:
        return data.setdefault(model, {"serving": None, "previous": None, "versions": {}})

    def _version(self, model: ModelName, entry: dict, version: str | None) -> Version | None:
        if version is None or version not in entry["versions"]:
            return None
        info = dict(entry["versions"][version])
        return Version(model, version, info.pop("file"), info)

    def serving(self, model: ModelName) -> Version | None:
        entry = self._entry(self._read(), model)
        return self._version(model, entry, entry["serving"])

    def previous(self, model: ModelName) -> Version | None:
        entry = self._entry(self._read(), model)
        return self._version(model, entry, entry["previous"])

    def get(self, model: ModelName, version: str) -> Version | None:
        return self._version(model, self._entry(self._read(), model), version)

    def versions(self, model: ModelName) -> list[Version]:
        entry = self._entry(self._read(), model)
        return [self._version(model, entry, v) for v in sorted(entry["versions"], key=_number)]

    def archive_path(self, model: ModelName, version: str | None = None) -> Path:
        """<model>.mar for the default build, <model>.v<version>.mar for rollouts."""
        return self.path / (f"{model}.mar" if version is None else f"{model}.v{version}.mar")

    def next_version(self, model: ModelName) -> str:
        numbers = [_number(v) for v in self._entry(self._read(), model)["versions"]] or [0]
        return str(max(numbers) + 1)

    # ---- changing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict]:
        """The registry, locked against other writers, saved atomically when the block ends."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            yield data
            write_json_atomic(self.path / REGISTRY_FILE, data, mode=0o600)

    def add_version(self, model: ModelName, version: str, file: str, metrics: dict,
                    serve_if_none: bool = False, stage: str | None = None) -> Version:
        """Record an archive. A `candidate` (a /train job's, until promoted or rejected) is left
        alone by every server's reconciler while the job smoke-tests it."""
        with self._changing() as data:
            entry = self._entry(data, model)
            entry["versions"][version] = {"file": file, **{k: metrics[k] for k in RECORDED_METRICS if k in metrics},
                                          **({"stage": stage} if stage else {})}
            if serve_if_none and entry["serving"] is None:
                entry["serving"] = version
        return self.get(model, version)

    def promote(self, model: ModelName, version: str) -> None:
        """Record `version` as served; the one it replaces becomes the previous version."""
        with self._changing() as data:
            entry = self._entry(data, model)
            if version not in entry["versions"]:
                raise Conflict(f"{model} has no version {version}", code="unknown_version")
            entry["versions"][version].pop("stage", None)
            if entry["serving"] != version:
                entry["previous"], entry["serving"] = entry["serving"], version
                entry["promoted_at"] = time.time()

    def draining(self, model: ModelName, seconds: float) -> Version | None:
        """The version replaced less than `seconds` ago: requests sent to it before the switch may
        still be in its queue, and TorchServe never answers those of a version it unloads."""
        entry = self._entry(self._read(), model)
        if entry.get("previous") is None or time.time() - entry.get("promoted_at", 0) >= seconds:
            return None
        return self._version(model, entry, entry["previous"])

    def reject(self, model: ModelName, version: str) -> None:
        """A candidate that will not be served; its archive stays in the store."""
        self.set_stage(model, version, REJECTED)

    def set_stage(self, model: ModelName, version: str, stage: str | None) -> None:
        with self._changing() as data:
            info = self._entry(data, model)["versions"][version]
            info.pop("stage", None)
            if stage:
                info["stage"] = stage

    def candidates(self, model: ModelName) -> set[str]:
        return {v.version for v in self.versions(model) if v.info.get("stage") == CANDIDATE}

    def rollback_target(self, model: ModelName) -> Version:
        """The previous version, checked to be servable."""
        previous = self.previous(model)
        if previous is None:
            raise Conflict(f"{model} has no previous version to roll back to", code="no_previous_version")
        if not (self.path / previous.file).is_file():  # a restart could not serve it either
            raise Conflict(f"version {previous.version}'s archive {previous.file} is no longer in the model store",
                           code="previous_archive_missing")
        return previous

    def migrate(self) -> list[str]:
        """Bring a store from the earlier layout (models named nsmc_fast / nsmc_bert) to this one.

        Registry keys are renamed and archives moved to this layout's names; nothing is deleted.
        Returns what was done."""
        done = []
        with self._changing() as data:
            for old, new in LEGACY_NAMES.items():
                if old not in data:
                    continue
                entry = data.pop(old)
                for info in entry["versions"].values():
                    renamed = info["file"].replace(old, new, 1)
                    if renamed != info["file"] and (self.path / info["file"]).exists() \
                            and not (self.path / renamed).exists():
                        os.replace(self.path / info["file"], self.path / renamed)
                        done.append(f"{info['file']} -> {renamed}")
                        info["file"] = renamed
                data.setdefault(new, entry)
                done.append(f"registry: {old} -> {new}")
        for old, new in LEGACY_NAMES.items():  # an archive the registry never recorded
            stray, target = self.path / f"{old}.mar", self.path / f"{new}.mar"
            if stray.exists() and not target.exists():
                os.replace(stray, target)
                done.append(f"{stray.name} -> {target.name}")
        for line in done:
            log.info("model store migrated: %s", line)
        return done


def _number(version: str) -> int:
    return int(float(version))
