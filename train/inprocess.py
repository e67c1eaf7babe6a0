"""Handlers run in-process (benchmarks, tests, training's own checks) exactly as a TorchServe worker
would: the Context its worker builds for a handler, and handlers loaded from built .mar archives."""
from __future__ import annotations

import functools
import json
import zipfile
from pathlib import Path

import ts
import yaml
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

from handlers.base import SentimentHandler

# TorchServe's default metrics definitions, so handlers' metrics (HandlerTime) work as in a worker.
METRICS_YAML = Path(ts.__file__).parent / "configs" / "metrics.yaml"


@functools.lru_cache
def _metrics(batch_size: int) -> MetricsCacheYamlImpl:
    metrics = MetricsCacheYamlImpl(str(METRICS_YAML))
    metrics.initialize_cache()
    metrics.model_name = "test"
    metrics.set_request_ids({i: f"request-{i}" for i in range(batch_size)})
    return metrics


def torchserve_context(model_dir, serialized_file=None, batch_size=8, model_yaml_config=None) -> Context:
    """The Context a TorchServe worker hands a handler for `model_dir`, with room for `batch_size` requests."""
    manifest = {"model": {"modelName": "test", "handler": "handler.py"}}
    if serialized_file:
        manifest["model"]["serializedFile"] = serialized_file
    metrics = _metrics(batch_size)
    context = Context("test", str(model_dir), manifest, batch_size, None, "0.12.0", metrics=metrics,
                      model_yaml_config=model_yaml_config)
    context.request_processor = [RequestProcessor({}) for _ in range(batch_size)]
    return context


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
