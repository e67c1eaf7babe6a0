"""The prediction log and feedback in a real database: SQLite, and a PostgreSQL server the tests
start (tests/postgres.py). Idempotent writes, erasure, retention, migrations that replicas can run
at once, and SQLite refused where stacks share the store."""
from __future__ import annotations

import threading
import time

import pytest

from core.database import connect, url_of
from core.errors import Conflict, ConfigurationError
from core.feedback import FeedbackItem, FeedbackStore, LoggedPrediction
from core.settings import Settings
from deploy.postgres import bin_dir, postgres_server
from tests.helpers import require_tool


@pytest.fixture(scope="module")
def postgres():
    if bin_dir() is None:
        require_tool("pg_ctl")  # skips, or fails under CI=true, saying how to install it
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path) -> Settings:
    if request.param == "sqlite":
        return Settings(run_dir=tmp_path / "run", model_store=tmp_path / "store")
    server = request.getfixturevalue("postgres")
    url = server.create_database(f"t{abs(hash(request.node.name)) % 10**8}")
    return Settings(run_dir=tmp_path / "run", model_store=tmp_path / "store", database_url=url)


def logged(request_id: str, item: int, text: str, label: int = 1, at: float | None = None) -> LoggedPrediction:
    return LoggedPrediction(request_id, item, text, label, 0.9, "fast", "1", at or time.time())


def test_feedback_is_stored_once_and_names_its_prediction(settings):
    store = FeedbackStore(connect(settings))
    store.log_predictions([logged("r1", 0, "재밌다"), logged("r1", 1, "지루하다", label=0)])
    first = store.add([FeedbackItem(0, "api", "r1", 0), FeedbackItem(1, "api", text="최고"),
                       FeedbackItem(1, "api", "r9", 0)], max_rows=100)
    assert [o.status for o in first] == ["stored", "stored", "error"] and first[2].code == "unknown_prediction"
    again = store.add([FeedbackItem(0, "api", "r1", 0), FeedbackItem(1, "api", text="최고"),
                       FeedbackItem(0, "moderators", "r1", 0)], max_rows=100)
    assert [(o.status, o.id) for o in again[:2]] == [("duplicate", first[0].id), ("duplicate", first[1].id)]
    assert again[2].status == "stored"  # another source's label for the same prediction is its own row
    rows = store.export()
    assert [r["text"] for r in rows] == ["재밌다", "최고", "재밌다"]
    assert rows[0]["predicted_label"] == "positive" and rows[0]["label"] == "negative"
    stats = store.stats()
    assert stats["rows"] == 3 and stats["by_source"] == {"api": 2, "moderators": 1}
    assert stats["by_model_version"] == {"fast:1": 2, "labelled text": 1}


def test_erasure_deletes_the_predictions_and_the_feedback_of_a_request(settings):
    store = FeedbackStore(connect(settings))
    store.log_predictions([logged("gone", 0, "a"), logged("kept", 0, "b")])
    store.add([FeedbackItem(0, "api", "gone", 0), FeedbackItem(0, "api", "kept", 0)], max_rows=100)
    assert store.erase_request("gone") == {"request_id": "gone", "predictions_deleted": 1, "feedback_deleted": 1}
    assert [r["request_id"] for r in store.export()] == ["kept"]
    deleted_id = store.export()[0]["id"]
    assert store.delete(deleted_id) and not store.delete(deleted_id)
    store.add([FeedbackItem(1, "api", text="new")], max_rows=100)
    assert store.export()[0]["id"] > deleted_id  # ids are never reused


def test_retention_keeps_the_newest_rows_within_age(settings):
    store = FeedbackStore(connect(settings))
    old = time.time() - 10 * 86400
    store.log_predictions([logged("old", i, f"o{i}", at=old) for i in range(3)])
    store.log_predictions([logged("new", i, f"n{i}") for i in range(5)])
    assert store.prune_predictions(max_age_seconds=86400, max_rows=1000) == 3
    assert store.prune_predictions(max_age_seconds=86400, max_rows=2) >= 3
    assert store.stats()["logged_predictions"] == 2


def test_the_row_cap_refuses_more_feedback_and_keeps_what_is_stored(settings):
    store = FeedbackStore(connect(settings))
    ids = [o.id for o in store.add([FeedbackItem(1, "api", text=f"t{i}") for i in range(4)], max_rows=4)]
    with pytest.raises(Conflict, match="maximum"):
        store.add([FeedbackItem(1, "api", text="one more")], max_rows=4)
    assert store.stats()["rows"] == 4
    store.delete(ids[1])  # a gap in the ids: the table is counted, and there is room for one
    assert store.add([FeedbackItem(1, "api", text="one more")], max_rows=4)[0].status == "stored"


def test_a_correction_needs_the_logged_text(settings):
    store = FeedbackStore(connect(settings))
    store.log_predictions([logged("r1", 0, "재밌다")], keep_texts=False)
    (outcome,) = store.add([FeedbackItem(0, "api", "r1", 0)], max_rows=100)
    assert (outcome.status, outcome.code) == ("error", "text_not_kept")


def test_quarantined_rows_are_left_out_of_training(settings):
    store = FeedbackStore(connect(settings))
    ids = [o.id for o in store.add([FeedbackItem(i % 2, "api", text=f"t{i}") for i in range(4)], max_rows=100)]
    assert store.quarantine(ids[:2]) == 2
    assert [r.id for r in store.training_rows(store.latest_id())] == ids[2:]
    assert store.stats()["quarantined"] == 2


def test_workers_starting_together_migrate_once(settings):
    """Every gateway worker and replica migrates at start: they wait on one lock, then find the
    schema current."""
    errors = []

    def start():
        try:
            connect(settings)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert FeedbackStore(connect(settings)).stats()["rows"] == 0


def test_sqlite_is_refused_where_stacks_share_the_store(tmp_path):
    with pytest.raises(ConfigurationError, match="SENTIMENT_DATABASE_URL"):
        url_of(Settings(run_dir=tmp_path, model_store=tmp_path, replicas=3))
    assert url_of(Settings(run_dir=tmp_path, model_store=tmp_path, replicas=3,
                           database_url="postgresql://u@db/x")) == "postgresql+psycopg://u@db/x"
