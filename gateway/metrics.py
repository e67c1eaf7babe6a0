"""Prometheus metrics for GET /metrics, correct across gunicorn workers.

Request metrics are counted in each worker and summed at scrape time by prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by gunicorn_conf.py). State that lives outside
the workers is read when scraped: the serving version of each model (the registry), whether
TorchServe answers, and training jobs by outcome (the job status files).
"""
from __future__ import annotations

import os

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from core.jobs import Jobs
from core.models import MODELS
from core.store import ModelStore
from core.torchserve import TorchServeClient
from gateway.services import get_client, get_jobs, get_store

blueprint = Blueprint("metrics", __name__)

REQUESTS = Counter("sentiment_requests", "HTTP requests by endpoint, model and status",
                   ["endpoint", "model", "status"])
LATENCY = Histogram("sentiment_request_seconds", "Request latency in the gateway", ["endpoint", "model"],
                    buckets=(.002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10))
REVIEWS = Counter("sentiment_reviews", "Reviews scored", ["model"])
BACKEND_ERRORS = Counter("sentiment_backend_errors", "TorchServe failures seen by the gateway", ["kind"])
CALL_REQUESTS = Histogram("sentiment_backend_call_requests", "Gateway requests carried by one TorchServe "
                          "inference call: concurrent requests go together (core/coalesce.py)", ["model"],
                          buckets=(1, 2, 4, 8, 16, 32))
FALLBACKS = Counter("sentiment_fallbacks", "Requests answered without one model because it could not answer: "
                    "auto by the fast model alone, accurate by BERT without the fast model's part", ["mode"])


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


def exposition(state: StateCollector) -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the Flask test client, `flask run`)
        registry = CollectorRegistry()
        for collector in (REQUESTS, LATENCY, REVIEWS, BACKEND_ERRORS, FALLBACKS, CALL_REQUESTS):
            registry.register(collector)
    registry.register(state)
    return generate_latest(registry)


def observe(endpoint: str, model: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, model, str(status)).inc()
    LATENCY.labels(endpoint, model).observe(seconds)


def observe_call(model: str, requests: int) -> None:
    CALL_REQUESTS.labels(model).observe(requests)



@blueprint.get("/metrics")
def scrape():
    return Response(exposition(StateCollector(get_store(), get_jobs(), get_client())), mimetype=CONTENT_TYPE_LATEST)
