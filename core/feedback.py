"""What the service remembers of its traffic, in the database (core/database.py, core/tables.py):
the prediction log and the feedback. One class, `FeedbackStore`, reads and writes both; the gateway
and the training job go through it and never through SQL of their own.

Feedback items are stored once: each has a unique dedupe key (the served prediction it corrects and
its source; or a hash of its source, text and label), and a second copy is answered "duplicate" with
the first one's id. A batch is one transaction: a reply says "stored" only after its commit.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import Engine, and_, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.database import reading
from core.errors import Conflict, DatabaseUnavailable
from core.tables import feedback, predictions
from handlers.artifacts import LABELS

STORED, DUPLICATE = "stored", "duplicate"


def _reachable(method):
    """The database being down or unreachable, as the service's error (503 at the gateway)."""
    @functools.wraps(method)
    def guarded(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(f"the database is unavailable: {type(exc.orig).__name__}") from exc

    return guarded


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoggedPrediction:
    request_id: str
    item: int
    text: str
    label: int
    confidence: float
    model: str
    version: Optional[str]
    created_at: float


@dataclass(frozen=True)
class FeedbackItem:
    """One item of POST /feedback: a correction (request_id and item) or a labelled text."""

    label: int
    source: str
    request_id: Optional[str] = None
    item: Optional[int] = None
    text: Optional[str] = None


@dataclass(frozen=True)
class Outcome:
    """What became of one feedback item: stored, duplicate, or an error code and message."""

    status: str
    id: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None

    def as_dict(self) -> dict:
        return {k: v for k, v in {"status": self.status, "id": self.id, "code": self.code,
                                  "message": self.message}.items() if v is not None}


@dataclass(frozen=True)
class TrainingRow:
    id: int
    text: str
    text_hash: str
    label: int
    source: str


def _exported(row) -> dict:
    """A feedback row as the export shows it: label names, as the API speaks them."""
    out = {str(k): v for k, v in row.items() if k != "dedupe_key"}
    for key in ("label", "predicted_label"):
        if out[key] is not None:
            out[key] = LABELS[out[key]]
    return out


class FeedbackStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    # ---- the prediction log --------------------------------------------------------------------
    @_reachable
    def log_predictions(self, rows: Iterable[LoggedPrediction], keep_texts: bool = True) -> int:
        values = [{"request_id": r.request_id, "item": r.item, "text_hash": text_hash(r.text),
                   "text": r.text if keep_texts else None, "label": r.label, "confidence": r.confidence,
                   "model": r.model, "version": r.version, "created_at": r.created_at} for r in rows]
        if values:
            with self.engine.begin() as connection:
                connection.execute(insert(predictions), values)
        return len(values)

    @_reachable
    def prune_predictions(self, max_age_seconds: float, max_rows: int) -> int:
        """Delete logged predictions older than `max_age_seconds`, and the oldest beyond `max_rows`."""
        with self.engine.begin() as connection:
            deleted = connection.execute(delete(predictions).where(
                predictions.c.created_at < time.time() - max_age_seconds)).rowcount
            newest = connection.execute(select(func.max(predictions.c.id))).scalar()
            if newest is not None and newest > max_rows:
                deleted += connection.execute(delete(predictions).where(
                    predictions.c.id <= newest - max_rows)).rowcount
        return deleted

    @_reachable
    def erase_request(self, request_id: str) -> dict:
        """Delete a request's logged predictions and the feedback that names it."""
        with self.engine.begin() as connection:
            logged = connection.execute(delete(predictions).where(predictions.c.request_id == request_id)).rowcount
            given = connection.execute(delete(feedback).where(feedback.c.request_id == request_id)).rowcount
        return {"request_id": request_id, "predictions_deleted": logged, "feedback_deleted": given}

    # ---- feedback ------------------------------------------------------------------------------
    @_reachable
    def add(self, items: list[FeedbackItem], max_rows: int) -> list[Outcome]:
        """Store the items in one transaction; one Outcome per item, in order. Raises Conflict when
        the table would grow past `max_rows`."""
        now = time.time()
        with self.engine.begin() as connection:
            if self._rows_at_most(connection) + len(items) > max_rows and \
                    connection.execute(select(func.count()).select_from(feedback)).scalar() + len(items) > max_rows:
                raise Conflict(f"the feedback store holds its maximum of {max_rows} rows; export and delete "
                               "old rows, or raise SENTIMENT_FEEDBACK_MAX_ROWS", code="feedback_full")
            logged = self._logged(connection, [(i.request_id, i.item) for i in items if i.request_id is not None])
            outcomes = []
            for item in items:
                row, error = self._row(item, logged, now)
                if error:
                    outcomes.append(error)
                    continue
                statement = self._insert(feedback).values(**row).on_conflict_do_nothing(
                    index_elements=["dedupe_key"]).returning(feedback.c.id)
                new_id = connection.execute(statement).scalar()
                if new_id is not None:
                    outcomes.append(Outcome(STORED, new_id))
                else:
                    existing = connection.execute(select(feedback.c.id).where(
                        feedback.c.dedupe_key == row["dedupe_key"])).scalar()
                    outcomes.append(Outcome(DUPLICATE, existing))
        return outcomes

    @staticmethod
    def _rows_at_most(connection) -> int:
        """An upper bound on the feedback rows from the ids alone (two index look-ups; ids only grow),
        so that the row cap counts the table only when it may be near full."""
        low, high = connection.execute(select(func.min(feedback.c.id), func.max(feedback.c.id))).one()
        return 0 if high is None else high - low + 1

    def _logged(self, connection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict]:
        """The latest logged prediction for each (request id, item)."""
        found: dict[tuple[str, int], dict] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = connection.execute(select(predictions).where(
                tuple_(predictions.c.request_id, predictions.c.item).in_(chunk)).order_by(predictions.c.id))
            for row in rows.mappings():
                found[(row["request_id"], row["item"])] = dict(row)
        return found

    @staticmethod
    def _row(item: FeedbackItem, logged: dict, now: float) -> tuple[dict | None, Outcome | None]:
        row = {"source": item.source, "label": item.label, "created_at": now, "quarantined": False}
        if item.request_id is None:
            digest = text_hash(f"{item.source}\0{item.text}\0{item.label}")
            return {**row, "dedupe_key": f"t:{digest}", "text": item.text, "text_hash": text_hash(item.text)}, None
        prediction = logged.get((item.request_id, item.item))
        if prediction is None:
            return None, Outcome("error", code="unknown_prediction", message=(
                f"no logged prediction for request {item.request_id} item {item.item}: a wrong id, one older than "
                "the log keeps, or one answered less than a second ago (the log is written off the request path)"))
        if prediction["text"] is None:
            return None, Outcome("error", code="text_not_kept", message=(
                "the prediction log keeps text hashes only (prediction_log_texts is off): send {text, label}"))
        return {**row, "dedupe_key": f"p:{item.source}:{item.request_id}:{item.item}", "text": prediction["text"],
                "text_hash": prediction["text_hash"], "request_id": item.request_id, "item": item.item,
                "predicted_label": prediction["label"], "predicted_model": prediction["model"],
                "predicted_version": prediction["version"]}, None

    @_reachable
    def delete(self, feedback_id: int) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(delete(feedback).where(feedback.c.id == feedback_id)).rowcount > 0

    @_reachable
    def stats(self) -> dict:
        """Counts by label, source, the predicting model's version, and quarantine."""
        with reading(self.engine) as connection:
            def grouped(*columns) -> list:
                return connection.execute(select(*columns, func.count()).group_by(*columns)).all()

            total = connection.execute(select(func.count(), func.max(feedback.c.id))).one()
            logged = connection.execute(select(func.count()).select_from(predictions)).scalar()
            return {
                "rows": total[0], "latest_id": total[1], "logged_predictions": logged,
                "by_label": {LABELS[label]: n for label, n in grouped(feedback.c.label)},
                "by_source": {source: n for source, n in grouped(feedback.c.source)},
                "by_model_version": {f"{m}:{v}" if m else "labelled text": n
                                     for m, v, n in grouped(feedback.c.predicted_model, feedback.c.predicted_version)},
                "quarantined": sum(n for q, n in grouped(feedback.c.quarantined) if q),
            }

    @_reachable
    def export(self, after_id: int = 0, limit: int = 1000) -> list[dict]:
        """Rows with ids above `after_id`, oldest first (page on with the last id)."""
        with reading(self.engine) as connection:
            rows = connection.execute(select(feedback).where(feedback.c.id > after_id)
                                      .order_by(feedback.c.id).limit(limit)).mappings()
            return [_exported(row) for row in rows]

    @_reachable
    def latest_id(self) -> int:
        with reading(self.engine) as connection:
            return connection.execute(select(func.max(feedback.c.id))).scalar() or 0

    @_reachable
    def count_after(self, feedback_id: int) -> int:
        with reading(self.engine) as connection:
            return connection.execute(select(func.count()).where(feedback.c.id > feedback_id)).scalar()

    # ---- training ------------------------------------------------------------------------------
    @_reachable
    def training_rows(self, cutoff_id: int) -> list[TrainingRow]:
        """Feedback up to `cutoff_id` that is not quarantined, in id order."""
        with reading(self.engine) as connection:
            rows = connection.execute(select(feedback.c.id, feedback.c.text, feedback.c.text_hash, feedback.c.label,
                                             feedback.c.source)
                                      .where(and_(feedback.c.id <= cutoff_id, feedback.c.quarantined.is_(False)))
                                      .order_by(feedback.c.id))
            return [TrainingRow(*row) for row in rows]

    @_reachable
    def quarantine(self, ids: list[int]) -> int:
        with self.engine.begin() as connection:
            changed = 0
            for start in range(0, len(ids), 1000):
                changed += connection.execute(update(feedback).where(feedback.c.id.in_(ids[start:start + 1000]))
                                              .values(quarantined=True)).rowcount
        return changed
