"""GET /metrics: Prometheus text, correct across gunicorn workers.

What the workers count (gateway/instruments.py) is summed at scrape time by prometheus-client's
multiprocess mode. State that lives outside the workers is read when scraped: the serving version
of each model and its reference values (the registry), whether TorchServe answers, and training
jobs by outcome (the job status files).
"""
from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from core.jobs import Jobs
from core.models import FAST, MODELS
from core.store import ModelStore
from core.torchserve import TorchServeClient
from gateway.instruments import counted
from gateway.routes import route
from gateway.services import get_client, get_jobs, get_store

blueprint = Blueprint("metrics", __name__)


class StateCollector:
    """What is true now, read at scrape time rather than counted."""

    def __init__(self, store: ModelStore, jobs: Jobs, client: TorchServeClient):
        self.store, self.jobs, self.client = store, jobs, client

    def collect(self):
        version = GaugeMetricFamily("sentiment_model_serving_version", "Serving version of each model",
                                    labels=["model"])
        for model in MODELS:
            serving = self.store.serving(model)
            if serving:
                version.add_metric([model], float(serving.version))
        yield version
        yield from self.references()
        yield GaugeMetricFamily("sentiment_backend_up", "1 when TorchServe answers its ping",
                                value=1.0 if self.client.ping() else 0.0)
        outcomes = {"promoted": 0, "gated": 0, "failed": 0}
        for job in self.jobs.finished():
            if job["state"] == "failed":
                outcomes["failed"] += 1
            elif job["state"] == "succeeded":
                outcomes["promoted" if job.get("promoted") else "gated"] += 1
        jobs = CounterMetricFamily("sentiment_training_jobs", "Finished training jobs by outcome", labels=["outcome"])
        for outcome, count in outcomes.items():
            jobs.add_metric([outcome], count)
        yield jobs

    def references(self):
        """What the serving versions answered on held-out NSMC (train/reference.py), beside which
        an alert compares the live signals."""
        gauges = {key: GaugeMetricFamily(f"sentiment_reference_{key}", text, labels=["model", "version"])
                  for key, text in REFERENCE_GAUGES.items()}
        chars = GaugeMetricFamily("sentiment_reference_text_chars", "Quantiles of the reference texts' length",
                                  labels=["quantile"])
        for model in MODELS:
            serving = self.store.serving(model)
            reference = (serving.info.get("reference") or {}) if serving else {}
            for key, gauge in gauges.items():
                if isinstance(reference.get(key), (int, float)):
                    gauge.add_metric([model, serving.version], float(reference[key]))
            if model == FAST:
                for quantile, value in (reference.get("text_chars") or {}).items():
                    chars.add_metric([quantile], float(value))
        yield from gauges.values()
        yield chars


REFERENCE_GAUGES = {
    "confidence_mean": "Mean confidence of the label returned on held-out NSMC (the expected accuracy)",
    "positive_ratio": "Share of held-out NSMC texts labelled positive",
    "unknown_ngram_share": "Mean share of unknown character n-grams on held-out NSMC (fast model)",
}


def exposition(state: StateCollector) -> bytes:
    registry = counted()
    registry.register(state)
    return generate_latest(registry)


@route(blueprint, "get", "/metrics", "Prometheus metrics", {200: (None, "Prometheus text format")},
       media_type="text/plain")
def scrape():
    return Response(exposition(StateCollector(get_store(), get_jobs(), get_client())), mimetype=CONTENT_TYPE_LATEST)
