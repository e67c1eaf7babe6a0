"""Scoring texts with a mode: `fast`, `accurate`, or `auto`, the cascade.

The accurate model blends BERT with the fast model's probabilities, which it gets from here: the
fast model scores the texts first, and its P(positive) travels with the texts to the accurate
model (no worker holds both models). If the fast model cannot answer, the accurate model answers
from BERT alone rather than fail.

In `auto` the fast model scores every text; a text whose fast confidence is below the threshold
(chosen on dev: bench/cascade.py) goes on to the accurate model, whose answer it gets. If the
accurate model cannot answer (down, not deployed, too slow), the fast answers stand: `auto` does
not fail, and each item's `model` says which model answered it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from core.errors import BackendError
from core.models import ACCURATE, FAST, ModelName
from core.coalesce import CoalescingClient
from core.torchserve import TorchServeClient
from handlers.artifacts import LABELS, UNKNOWN_NGRAMS

log = logging.getLogger(__name__)
Mode = Literal["fast", "accurate", "auto"]


@dataclass
class Scored:
    items: list[dict]  # per text: label, confidence, model (+ explanation)
    versions: dict[ModelName, str | None] = field(default_factory=dict)  # model -> version that answered
    fell_back: bool = False  # the other model could not answer: auto kept fast answers, accurate used BERT alone
    unknown_ngrams: list[float] | None = None  # per text, from the fast model when it scored them (input drift)


def _unknown(fast_items: list[dict]) -> list[float] | None:
    shares = [item.get(UNKNOWN_NGRAMS) for item in fast_items]
    return shares if all(isinstance(v, (int, float)) for v in shares) else None


def positive(item: dict) -> float:
    """P(positive) of one answer item."""
    return item["confidence"] if item["label"] == LABELS[1] else 1.0 - item["confidence"]


def _ask(client: TorchServeClient | CoalescingClient, model: ModelName, texts: list[str], explain: bool, request_id: str | None,
         fast_positive: list[float] | None = None):
    answer = client.predict(model, texts, request_id=request_id, explain=explain, fast_positive=fast_positive)
    return [{**result, "model": model} for result in answer.results], answer.version


def _accurate(client, texts, explain, request_id) -> Scored:
    try:
        fast_items, fast_version = _ask(client, FAST, texts, False, request_id)
    except BackendError as exc:
        log.warning("accurate: the fast model did not answer (%s); BERT alone scores %d texts", exc, len(texts))
        items, version = _ask(client, ACCURATE, texts, explain, request_id)
        return Scored(items, {ACCURATE: version}, fell_back=True)
    items, version = _ask(client, ACCURATE, texts, explain, request_id, [positive(i) for i in fast_items])
    return Scored(items, {ACCURATE: version, FAST: fast_version}, unknown_ngrams=_unknown(fast_items))


def score(client: TorchServeClient | CoalescingClient, mode: Mode, texts: list[str], threshold: float, explain: bool = False,
          request_id: str | None = None) -> Scored:
    if mode == FAST:
        items, version = _ask(client, FAST, texts, explain, request_id)
        return Scored(items, {FAST: version}, unknown_ngrams=_unknown(items))
    if mode == ACCURATE:
        return _accurate(client, texts, explain, request_id)
    items, version = _ask(client, FAST, texts, explain, request_id)
    scored = Scored(items, {FAST: version}, unknown_ngrams=_unknown(items))
    unsure = [i for i, item in enumerate(items) if item.get("confidence", 1.0) < threshold]
    if not unsure:
        return scored
    try:
        better, version = _ask(client, ACCURATE, [texts[i] for i in unsure], explain, request_id,
                               [positive(items[i]) for i in unsure])
    except BackendError as exc:
        log.warning("auto: the accurate model did not answer (%s); %d texts keep the fast answer", exc, len(unsure))
        scored.fell_back = True
        return scored
    for i, item in zip(unsure, better):
        items[i] = item
    scored.versions[ACCURATE] = version
    return scored
