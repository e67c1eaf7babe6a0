"""How the models do on what users send: counted per model version on the request path (a few
metric updates a text) and, for shadow agreement, off it. Prometheus sums the counts across
gunicorn workers and replicas; ratios are taken in PromQL (monitoring/alerts.yml) and, for one
gateway, in GET /models.

- Estimated accuracy without labels: the confidence of each returned label (a histogram). With
  calibrated confidences its mean is the expected accuracy (NannyML's confidence-based performance
  estimation, which also assumes no concept drift and enough texts).
- Label ratio: labels returned, by label.
- Input drift: characters per text, and the share of each text's character n-grams the serving
  fast model does not know (the fast handler measures it while scoring: `unknown_ngrams`).
- Shadow agreement: a uniform sample (`shadow_rate`) of fast-only requests is scored again by the
  accurate model in a background thread (a greenlet under gevent), from a bounded queue; a full
  queue drops the sample and counts it. The client's answer and its latency are never touched.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass

from core.coalesce import CoalescingClient
from core.errors import BackendError
from core.models import ACCURATE, FAST
from core.scoring import Scored, positive
from gateway import instruments
from gateway.background import BackgroundQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _ShadowJob:
    texts: list[str]
    labels: list[str]
    fast_positive: list[float]
    fast_version: str


class LiveSignals:
    def __init__(self, predictor: CoalescingClient, enabled: bool, shadow_rate: float, shadow_queue: int):
        self.predictor, self.enabled, self.shadow_rate = predictor, enabled, shadow_rate
        self._queue = BackgroundQueue("shadow", shadow_queue, self._score)

    def observe(self, mode: str, texts: list[str], scored: Scored) -> None:
        """Count one served /predict answer (and maybe send it to the shadow)."""
        if not self.enabled:
            return
        labels: Counter = Counter()
        confidence: dict[tuple, list[float]] = {}
        for item in scored.items:
            key = (item["model"], scored.versions.get(item["model"]) or "unknown")
            confidence.setdefault(key, []).append(item["confidence"])
            labels[(*key, item["label"])] += 1
        for key, values in confidence.items():
            instruments.observe_many(instruments.CONFIDENCE.labels(*key), values)
        for key, count in labels.items():
            instruments.PREDICTIONS.labels(*key).inc(count)
        instruments.observe_many(instruments.TEXT_CHARS, (len(text) for text in texts))
        if scored.unknown_ngrams is not None:
            instruments.observe_many(instruments.UNKNOWN_NGRAMS.labels(scored.versions.get(FAST) or "unknown"),
                                     scored.unknown_ngrams)
        if mode == FAST and self.shadow_rate and random.random() < self.shadow_rate:
            self._shadow(_ShadowJob(texts, [i["label"] for i in scored.items], [positive(i) for i in scored.items],
                                    scored.versions.get(FAST) or "unknown"))

    def _shadow(self, job: _ShadowJob) -> None:
        if not self._queue.put(job):
            instruments.SHADOW_DROPPED.labels("queue_full").inc()

    def _score(self, jobs: list[_ShadowJob]) -> None:
        for job in jobs:
            try:
                answer = self.predictor.predict(ACCURATE, job.texts, fast_positive=job.fast_positive)
            except BackendError as exc:
                log.debug("shadow scoring failed: %s", exc)
                instruments.SHADOW_DROPPED.labels("backend").inc()
                continue
            agree = sum(a == r.get("label") for a, r in zip(job.labels, answer.results))
            accurate_version = answer.version or "unknown"
            if agree:
                instruments.SHADOW.labels(job.fast_version, accurate_version, "agree").inc(agree)
            if len(job.texts) - agree:
                instruments.SHADOW.labels(job.fast_version, accurate_version, "disagree").inc(len(job.texts) - agree)


def live_values(registry) -> dict:
    """Per model and version, what this gateway counted so far: {model: {version: {...}}}."""
    out: dict = {}

    def entry(model, version):
        return out.setdefault(model, {}).setdefault(version, {})

    sums: dict = {}
    for sample in instruments.samples(registry, "sentiment_prediction_confidence", "sentiment_unknown_ngram_share"):
        if sample.name.endswith(("_sum", "_count")):
            model = sample.labels.get("model", FAST)
            key = (sample.name.rsplit("_", 1)[0], model, sample.labels["version"])
            sums.setdefault(key, {})[sample.name.rsplit("_", 1)[1]] = sample.value
    for (name, model, version), value in sums.items():
        if value.get("count"):
            field = "estimated_accuracy" if name.endswith("confidence") else "unknown_ngram_share"
            entry(model, version)[field] = round(value["sum"] / value["count"], 4)
            if field == "estimated_accuracy":
                entry(model, version)["texts"] = int(value["count"])
    labels = _tally(registry, "sentiment_predictions", ("model", "version"), "label")
    for (model, version), counts in labels.items():
        if sum(counts.values()):
            entry(model, version)["positive_ratio"] = round(counts["positive"] / sum(counts.values()), 4)
    shadow = _tally(registry, "sentiment_shadow_texts", ("fast_version", "accurate_version"), "outcome")
    for (fast_version, accurate_version), counts in shadow.items():
        total = sum(counts.values())
        if total:
            entry(FAST, fast_version).setdefault("shadow_agreement", {})[f"{ACCURATE} v{accurate_version}"] = {
                "agreement": round(counts["agree"] / total, 4), "texts": int(total)}
    return out


def _tally(registry, counter: str, keys: tuple[str, ...], by: str) -> dict[tuple, Counter]:
    """A counter's totals, grouped by the `keys` labels and counted by the `by` label."""
    out: dict[tuple, Counter] = {}
    for sample in instruments.samples(registry, counter):
        if sample.name.endswith("_total"):
            out.setdefault(tuple(sample.labels[k] for k in keys), Counter())[sample.labels[by]] += sample.value
    return out
