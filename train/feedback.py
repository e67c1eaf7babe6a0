"""What a /train job learns from beside NSMC: the feedback up to a cutoff (core/feedback.py),
screened and split.

- **Holdout:** a stable share of the feedback (by a hash of the text, so a text is always on the
  same side, job after job) is never trained on; the gate judges versions on it (train/gate.py).
- **Quarantine:** a row whose label every serving model contradicts with at least
  `quarantine_confidence` is marked in the database and left out, now and in later jobs; so is every
  row of a source more than `quarantine_source_share` of whose rows are (a poisoned batch: honest
  sources lose a few rows of label noise, a flipped batch about half of its rows to the first
  rule). `trusted_sources` are never quarantined.
- **Sources:** no source makes up more than `max_source_share` of the training feedback; a larger
  one is sampled down (deterministically, by the same hash). Off by default.
- **Manifest:** the cutoff id, the counts, and a hash of the ids used, recorded with the version
  (its metrics.json, the registry, GET /models and the job result), so that the training data of a
  version can be told again and an erased row traced to the versions that learned from it.
"""
from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from core.errors import BackendError
from core.feedback import FeedbackStore, TrainingRow
from core.models import ACCURATE, FAST
from core.scoring import positive
from core.torchserve import TorchServeClient
from handlers.artifacts import LABELS
from handlers.base import MAX_TEXTS_PER_REQUEST
from train.data import Split

log = logging.getLogger(__name__)
SCORE_CHUNK = MAX_TEXTS_PER_REQUEST  # texts per TorchServe call while screening: the handlers' most


@dataclass
class FeedbackData:
    train: list[TrainingRow]
    holdout: list[TrainingRow]
    manifest: dict = field(default_factory=dict)

    def split(self, rows: list[TrainingRow]) -> Split:
        return Split([r.text for r in rows], np.array([r.label for r in rows], dtype=np.int64))


def share_of(row: TrainingRow) -> float:
    """Where a text falls in [0, 1), from its hash: stable across jobs and machines."""
    return int(row.text_hash[:8], 16) / 2 ** 32


def screen(rows: list[TrainingRow], client: TorchServeClient, with_accurate: bool, threshold: float) -> list[int]:
    """Ids of rows whose label every serving model contradicts with confidence >= threshold. The
    fast model scores every row; the accurate one (`with_accurate`: this stack serves it) only
    those the fast model flags."""
    flagged: list[tuple[TrainingRow, float]] = []
    for start in range(0, len(rows), SCORE_CHUNK):
        chunk = rows[start:start + SCORE_CHUNK]
        answers = client.predict(FAST, [r.text for r in chunk]).results
        flagged += [(row, positive(answer)) for row, answer in zip(chunk, answers)
                    if answer["label"] != LABELS[row.label] and answer["confidence"] >= threshold]
    if not flagged or not with_accurate:
        return [row.id for row, _ in flagged]
    contradicted = []
    try:
        for start in range(0, len(flagged), SCORE_CHUNK):
            chunk = flagged[start:start + SCORE_CHUNK]
            answers = client.predict(ACCURATE, [r.text for r, _ in chunk], fast_positive=[p for _, p in chunk]).results
            contradicted += [row.id for (row, _), answer in zip(chunk, answers)
                             if answer["label"] != LABELS[row.label] and answer["confidence"] >= threshold]
    except BackendError as exc:  # the accurate model is served but not answering: quarantine nothing
        log.warning("screening: the accurate model did not answer (%s); no feedback quarantined", exc)
        return []
    return contradicted


def cap_sources(rows: list[TrainingRow], max_share: float) -> tuple[list[TrainingRow], dict[str, int]]:
    """Rows with no source above `max_share` of the total (the largest sampled down, by hash);
    and how many rows each capped source lost. One source alone is kept whole."""
    counts = Counter(r.source for r in rows)
    if len(counts) < 2 or max_share >= 1:
        return rows, {}
    kept = dict(counts)
    while True:  # a source's cap depends on the others' kept rows, so settle it in rounds
        total = sum(kept.values())
        over = {s: n for s, n in kept.items() if n > max_share * total + 1e-9}
        if not over:
            break
        for source in over:
            others = total - kept[source]
            kept[source] = max(1, int(max_share * others / (1 - max_share)))
    dropped = {s: counts[s] - kept[s] for s in counts if kept[s] < counts[s]}
    by_source: dict[str, list[TrainingRow]] = {}
    for row in sorted(rows, key=share_of):
        by_source.setdefault(row.source, []).append(row)
    chosen = {row.id for source, group in by_source.items() for row in group[:kept[source]]}
    return [r for r in rows if r.id in chosen], dropped


@dataclass(frozen=True)
class Screening:
    """How feedback is screened before training (the settings of the same names)."""

    confidence: float
    source_share: float
    trusted: frozenset[str] = frozenset()
    min_source_rows: int = 20  # a source's share of flagged rows means little below this


def quarantined_ids(rows: list[TrainingRow], flagged: list[int], screening: Screening) -> tuple[list[int], list[str]]:
    """The flagged rows, and every row of a source flagged more often than `source_share`; trusted
    sources left out. Also the sources quarantined whole."""
    flagged_set = {i for i in flagged}
    screened, bad = Counter(r.source for r in rows), Counter(r.source for r in rows if r.id in flagged_set)
    whole = sorted(s for s, n in screened.items() if s not in screening.trusted and n >= screening.min_source_rows
                   and bad[s] / n > screening.source_share)
    ids = [r.id for r in rows if r.source not in screening.trusted and (r.id in flagged_set or r.source in whole)]
    return ids, whole


def snapshot(feedback: FeedbackStore, client: TorchServeClient, with_accurate: bool, holdout_share: float,
             screening: Screening, max_source_share: float) -> FeedbackData:
    """The feedback up to now: screened (quarantine written to the database), split, capped."""
    cutoff = feedback.latest_id()
    rows = list(feedback.training_rows(cutoff))
    flagged = screen(rows, client, with_accurate, screening.confidence) if rows else []
    quarantined, whole_sources = quarantined_ids(rows, flagged, screening)
    if quarantined:
        feedback.quarantine(quarantined)
        log.info("quarantined %d of %d feedback rows: every serving model contradicts their label, or their source's "
                 "(%s)", len(quarantined), len(rows), ", ".join(whole_sources) or "none whole")
        gone = set(quarantined)
        rows = [r for r in rows if r.id not in gone]
    holdout = [r for r in rows if share_of(r) < holdout_share]
    train, capped = cap_sources([r for r in rows if share_of(r) >= holdout_share], max_source_share)
    used = sorted(r.id for r in train)
    manifest = {
        "cutoff_id": cutoff,
        "rows": len(rows) + len(quarantined),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "quarantined": len(quarantined),
        "quarantined_sources": whole_sources,
        "capped": capped,
        "by_source": dict(Counter(r.source for r in train)),
        "train_ids_sha256": hashlib.sha256(",".join(map(str, used)).encode()).hexdigest(),
    }
    return FeedbackData(train, holdout, manifest)
