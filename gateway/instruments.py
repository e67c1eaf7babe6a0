"""The gateway's own metrics, counted in each gunicorn worker (prometheus-client's multiprocess
mode: PROMETHEUS_MULTIPROC_DIR, set by gunicorn_conf.py) and summed when scraped (gateway/metrics.py)."""
from __future__ import annotations

import bisect
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

REQUESTS = Counter("sentiment_requests", "HTTP requests by endpoint, model and status",
                   ["endpoint", "model", "status"])
LATENCY = Histogram("sentiment_request_seconds", "Request latency in the gateway", ["endpoint", "model"],
                    buckets=(.002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10))
REVIEWS = Counter("sentiment_reviews", "Reviews scored", ["model"])
BACKEND_ERRORS = Counter("sentiment_backend_errors", "TorchServe failures seen by the gateway", ["kind"])
CALL_REQUESTS = Histogram("sentiment_backend_call_requests", "Gateway requests carried by one TorchServe "
                          "inference call: concurrent requests go together (core/coalesce.py)", ["model"],
                          buckets=(1, 2, 4, 8, 16, 32))
# Live signals (gateway/live_signals.py), per model and version: the mean confidence of the label
# returned is the expected accuracy when confidences are calibrated (NannyML's CBPE).
CONFIDENCE = Histogram("sentiment_prediction_confidence", "Confidence of the label returned, per text",
                       ["model", "version"], buckets=(.55, .6, .65, .7, .75, .8, .85, .9, .95, .99, 1))
PREDICTIONS = Counter("sentiment_predictions", "Labels returned, per text", ["model", "version", "label"])
TEXT_CHARS = Histogram("sentiment_text_chars", "Characters per text sent to /predict",
                       buckets=(5, 10, 20, 40, 80, 140, 300, 600, 1200, 2000))
UNKNOWN_NGRAMS = Histogram("sentiment_unknown_ngram_share", "Share of a text's character n-grams the serving "
                           "fast model does not know (input drift)", ["version"],
                           buckets=(.05, .1, .15, .2, .3, .4, .5, .6, .8, 1))
SHADOW = Counter("sentiment_shadow_texts", "Fast-only texts also scored by the accurate model off the request "
                 "path, by whether the two labels agree", ["fast_version", "accurate_version", "outcome"])
SHADOW_DROPPED = Counter("sentiment_shadow_dropped", "Shadow requests dropped: the queue was full or the "
                         "accurate model did not answer", ["reason"])
FALLBACKS = Counter("sentiment_fallbacks", "Requests answered without one model because it could not answer: "
                    "auto by the fast model alone, accurate by BERT without the fast model's part", ["mode"])

# The prediction log and feedback (gateway/prediction_log.py, gateway/feedback.py).
PREDICTION_LOG_WRITTEN = Counter("sentiment_prediction_log_written", "Answer items written to the prediction log")
PREDICTION_LOG_DROPPED = Counter("sentiment_prediction_log_dropped", "Answer items not logged: the queue was full "
                                 "or the database failed", ["reason"])
FEEDBACK_ITEMS = Counter("sentiment_feedback_items", "POST /feedback items by outcome (stored, duplicate, or the "
                         "error code)", ["outcome"])


PROCESS_METRICS = (REQUESTS, LATENCY, REVIEWS, BACKEND_ERRORS, FALLBACKS, CALL_REQUESTS, CONFIDENCE, PREDICTIONS,
                   TEXT_CHARS, UNKNOWN_NGRAMS, SHADOW, SHADOW_DROPPED, PREDICTION_LOG_WRITTEN, PREDICTION_LOG_DROPPED,
                   FEEDBACK_ITEMS)

def counted() -> CollectorRegistry:
    """The request metrics of every gateway worker, summed."""
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the Flask test client, `flask run`)
        for collector in PROCESS_METRICS:
            registry.register(collector)
    return registry


def samples(registry: CollectorRegistry, *names: str) -> list:
    """Every sample of the named metrics (a histogram's _sum, _count and _bucket included)."""
    return [sample for family in registry.collect() if family.name in names for sample in family.samples]


def observe(endpoint: str, model: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, model, str(status)).inc()
    LATENCY.labels(endpoint, model).observe(seconds)


def observe_call(model: str, requests: int) -> None:
    CALL_REQUESTS.labels(model).observe(requests)


def observe_many(histogram, values) -> None:
    """`histogram.observe(v)` for every value, writing each touched bucket and the sum once.

    In multiprocess mode every observation is two writes to a memory-mapped file; per text, that
    was most of the live signals' cost on a 32-text request. prometheus-client has no bulk observe,
    so this counts the buckets itself through the histogram's own bucket values (as `observe` does),
    and falls back to `observe` if a release stops keeping them there."""
    values = list(values)
    if not values:
        return
    buckets, bounds = getattr(histogram, "_buckets", None), getattr(histogram, "_upper_bounds", None)
    if buckets is None or bounds is None or len(buckets) != len(bounds):
        for value in values:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:
        index = bisect.bisect_left(bounds, value)  # the first bound >= value, as observe() finds it
        counts[index] = counts.get(index, 0) + 1
    histogram._sum.inc(sum(values))
    for index, count in counts.items():
        buckets[index].inc(count)
