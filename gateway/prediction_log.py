"""The prediction log: each /predict answer item, by request id and index, so that feedback can name
it later (core/feedback.py). Written off the request path: `record` only queues the answer; a
background thread (a greenlet under gevent) writes queued answers in batches through the blocking
pool (gateway/blocking.py, gateway/background.py), and now and then deletes what retention no longer keeps. A full queue or
a failing database drops answers and counts them (sentiment_prediction_log_dropped_total): /predict
is never slower and never fails for the log's sake.
"""
from __future__ import annotations

import logging
import time

from core.feedback import FeedbackStore, LoggedPrediction
from core.scoring import Scored
from core.settings import Settings
from gateway import instruments
from gateway.background import BackgroundQueue
from gateway.blocking import run_blocking
from handlers.artifacts import LABELS

log = logging.getLogger(__name__)
BATCH_ANSWERS = 256  # answers written in one transaction at most
# Answers gathered for up to this long into one transaction: a commit is an fsync (SQLite with
# synchronous=FULL) and most of the log's CPU, and one a request cost ~0.6 ms of a worker's CPU at c=1.
LINGER_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 60.0
RETRY_AFTER_SECONDS = 1.0  # after a failed write, so a database that is down is not hammered


class PredictionLog:
    def __init__(self, store: FeedbackStore | None, settings: Settings):
        self.store, self.settings = store, settings
        self.enabled = store is not None and settings.prediction_log
        self._queue = BackgroundQueue("prediction-log", settings.prediction_log_queue, self._write, BATCH_ANSWERS,
                                      LINGER_SECONDS)
        self._pruned_at = 0.0

    def record(self, request_id: str, texts: list[str], scored: Scored) -> None:
        if self.enabled and not self._queue.put((request_id, time.time(), texts, scored)):
            instruments.PREDICTION_LOG_DROPPED.labels("queue_full").inc(len(texts))

    def _write(self, answers: list[tuple]) -> None:
        rows = [LoggedPrediction(request_id, index, text, LABELS.index(item["label"]), item["confidence"],
                                     item["model"], scored.versions.get(item["model"]), at)
                for request_id, at, texts, scored in answers
                for index, (text, item) in enumerate(zip(texts, scored.items))]
        try:
            run_blocking(self.store.log_predictions, rows, self.settings.prediction_log_texts)
            instruments.PREDICTION_LOG_WRITTEN.inc(len(rows))
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()
                run_blocking(self.store.prune_predictions, self.settings.prediction_log_days * 86400,
                             self.settings.prediction_log_max_rows)
        except Exception as exc:  # the database is down or refused: count, say so, go on
            instruments.PREDICTION_LOG_DROPPED.labels("database").inc(len(rows))
            log.warning("prediction log: %d predictions not written: %s", len(rows), exc)
            time.sleep(RETRY_AFTER_SECONDS)
