"""Which archive versions exist and which one is served, kept beside the archives.

archives/registry.json:
  {"nsmc_fast": {"serving": "2", "previous": "1",
                 "versions": {"1": {"file": "nsmc_fast.mar", "test_accuracy": 0.88, ...}, "2": {...}}}}
TorchServe itself is started from this file, so a restart serves the promoted versions.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REGISTRY_FILE = "registry.json"


class Registry:
    def __init__(self, store: Path):
        self.path = Path(store) / REGISTRY_FILE
        self.data: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def model(self, name: str) -> dict:
        return self.data.setdefault(name, {"serving": None, "previous": None, "versions": {}})

    def add_version(self, name: str, version: str, file: str, metrics: dict) -> None:
        entry = {"file": file, **{k: metrics[k] for k in ("test_accuracy", "test_rows", "train_rows", "created")
                                  if k in metrics}}
        self.model(name)["versions"][version] = entry

    def serving(self, name: str) -> tuple[str, dict] | None:
        model = self.data.get(name)
        if not model or model["serving"] is None:
            return None
        return model["serving"], model["versions"][model["serving"]]

    def promote(self, name: str, version: str) -> None:
        model = self.model(name)
        if model["serving"] != version:
            model["previous"], model["serving"] = model["serving"], version

    def next_version(self, name: str) -> str:
        numbers = [int(float(v)) for v in self.model(name)["versions"]] or [0]
        return str(max(numbers) + 1)

    def save(self) -> None:
        """Atomic replace: a crash mid-write never leaves a torn registry."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp") as tmp:
            json.dump(self.data, tmp, indent=2)
        os.replace(tmp.name, self.path)


def record_archive(store: Path, name: str, version: str, file: str, metrics: dict, serve: bool) -> Registry:
    registry = Registry(store)
    registry.add_version(name, version, file, metrics)
    if serve:
        registry.promote(name, version)
    registry.save()
    return registry
