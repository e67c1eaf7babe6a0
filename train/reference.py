"""What a version answers on held-out NSMC: the reference its live signals are compared with.

Recorded with every version in the registry (`reference` in its info; /models shows it, and
GET /metrics exposes it as sentiment_reference_* gauges), from the archive as served: the handlers
loaded in-process from the .mar, the accurate one blended with the serving fast model's
probabilities as the gateway would send them. The texts are a fixed sample of NSMC test (every
25th review the gateway accepts, 2,000), never used to choose anything.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from core.models import FAST, ModelName
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.artifacts import UNKNOWN_NGRAMS
from handlers.fast_handler import FastHandler
from handlers.text import clean_text
from train.data import NSMCDataError, load_split
from train.inprocess import load_archive

log = logging.getLogger(__name__)
EVERY = 25
ROWS = 2000
TEXT_CHAR_QUANTILES = ("0.1", "0.5", "0.9")


def holdout(data_dir=None) -> tuple[list[str], list[str]]:
    """(texts as sent, cleaned texts) of the reference sample."""
    sent = [t for t in load_split("test", data_dir).texts[::EVERY] if clean_text(t).strip()][:ROWS]
    return sent, [clean_text(t) for t in sent]


def summarize(sent: list[str], positive: np.ndarray, unknown: np.ndarray | None = None) -> dict:
    confidence = np.maximum(positive, 1.0 - positive)
    lengths = np.array([len(t) for t in sent])
    out = {"rows": len(sent), "confidence_mean": round(float(confidence.mean()), 4),
           "positive_ratio": round(float((positive >= 0.5).mean()), 4),
           "text_chars": {q: float(np.quantile(lengths, float(q))) for q in TEXT_CHAR_QUANTILES}}
    if unknown is not None:
        out["unknown_ngram_share"] = round(float(np.mean(unknown)), 4)
    return out


def of_archive(model: ModelName, mar: Path, store: ModelStore, data_dir=None) -> dict | None:
    """The reference of one archive; None (logged) when NSMC test cannot be read."""
    try:
        sent, texts = holdout(data_dir)
    except NSMCDataError as exc:
        log.warning("no reference values for %s: %s", mar.name, exc)
        return None
    with tempfile.TemporaryDirectory(prefix="reference_") as tmp:
        if model == FAST:
            positive, signals = load_archive(FastHandler(), mar, Path(tmp) / "fast").score_texts(texts)
            return summarize(sent, positive, signals.get(UNKNOWN_NGRAMS))
        fast_positive, fast = None, store.serving(FAST)
        if fast is not None and (store.path / fast.file).is_file():
            fast_positive = load_archive(FastHandler(), store.path / fast.file, Path(tmp) / "fast").predict_positive(texts)
        accurate = load_archive(AccurateHandler(), mar, Path(tmp) / "accurate")
        return {**summarize(sent, accurate.predict_positive(texts, fast_positive)),
                "blended_with": f"{FAST} v{fast.version}" if fast_positive is not None else None}
