"""Explanations: which parts of a review pushed its label, as word spans of the text as sent.

A model explains a cleaned text with one weight per character (its contribution to the logit of
P(positive): positive weights push towards "positive"). Here the characters are gathered into the
words of the cleaned text (a space's weight is split between its two neighbours, so nothing is
lost) and each word is placed on the original text through clean_text's offsets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from handlers.text import clean_text_with_offsets

EXPLAIN_DECIMALS = 6


@dataclass
class Explanation:
    weights: np.ndarray  # one per character of the cleaned text
    logit: float  # of P(positive)
    bias: float | None  # the part of the logit no character carries (linear models); None otherwise
    method: str


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def occlusion(predict_positive: Callable[[list[str]], np.ndarray], text: str) -> Explanation:
    """Each word's weight is how much the logit drops when that word is left out, asked of the
    model as served (one batch: the text and each of its one-word-shorter variants)."""
    words = text.split(" ") if text else []
    variants = [text] + [" ".join(words[:k] + words[k + 1:]) for k in range(len(words))]
    logits = logit(predict_positive(variants))
    weights = np.zeros(len(text))
    start = 0
    for k, word in enumerate(words):
        weights[start:start + len(word)] = (logits[0] - logits[k + 1]) / max(len(word), 1)
        start += len(word) + 1
    return Explanation(weights, float(logits[0]), None, "occlusion")


def word_spans(raw: str, explanation: Explanation) -> dict:
    """The explanation as {"method", "logit", "bias", "spans": [{"start", "end", "text", "weight"}]}."""
    cleaned, offsets = clean_text_with_offsets(raw)
    weights = np.asarray(explanation.weights, dtype=np.float64)
    spans, start = [], 0
    while start < len(cleaned):
        end = cleaned.find(" ", start)
        end = len(cleaned) if end < 0 else end
        weight = weights[start:end].sum()
        weight += weights[start - 1] / 2 if start > 0 else 0.0  # half of the space before
        weight += weights[end] / 2 if end < len(cleaned) else 0.0  # and of the one after
        # to where the next word's gap starts, so squeezed repeats ("!!!!!!") stay inside the span
        first, last = offsets[start], offsets[end] if end < len(cleaned) else len(raw.rstrip())
        spans.append({"start": first, "end": last, "text": raw[first:last],
                      "weight": round(float(weight), EXPLAIN_DECIMALS)})
        start = end + 1
    return {"method": explanation.method, "logit": round(explanation.logit, EXPLAIN_DECIMALS),
            "bias": None if explanation.bias is None else round(float(explanation.bias), EXPLAIN_DECIMALS),
            "spans": spans}
