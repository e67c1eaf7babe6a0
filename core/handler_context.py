"""The Context TorchServe's worker builds for a handler, for running handlers in-process
(benchmarks, tests) exactly as a worker would call them."""
from __future__ import annotations

import functools
from pathlib import Path

import ts
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

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
    manifest = {"model": {"modelName": "test", "handler": "handler.py"}}
    if serialized_file:
        manifest["model"]["serializedFile"] = serialized_file
    metrics = _metrics(batch_size)
    context = Context("test", str(model_dir), manifest, batch_size, None, "0.12.0", metrics=metrics,
                      model_yaml_config=model_yaml_config)
    context.request_processor = [RequestProcessor({}) for _ in range(batch_size)]
    return context
