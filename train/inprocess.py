"""Handlers loaded from built .mar archives, in-process, as a TorchServe worker would load them."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import yaml

from core.handler_context import torchserve_context
from handlers.base import SentimentHandler


def load_archive(handler: SentimentHandler, mar: Path, into: Path) -> SentimentHandler:
    """Unpack a .mar and initialize `handler` from it with the archive's own model config."""
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(into)
    manifest = json.loads((into / "MAR-INF" / "MANIFEST.json").read_text())["model"]
    context = torchserve_context(into, serialized_file=manifest.get("serializedFile"))
    config = manifest.get("configFile")
    context.model_yaml_config = yaml.safe_load((into / config).read_text()) if config else {}
    handler.initialize(context)
    return handler
