"""The prediction log writes off the request path and never lets the database slow or fail a
request: what it could not write is counted (gateway/prediction_log.py)."""
from __future__ import annotations

import time

from sqlalchemy import create_engine

from core.database import connect
from core.feedback import FeedbackStore
from core.scoring import Scored
from core.settings import Settings
from gateway import instruments
from gateway.prediction_log import PredictionLog

SCORED = Scored([{"label": "positive", "confidence": 0.9, "model": "fast"},
                 {"label": "negative", "confidence": 0.8, "model": "fast"}], {"fast": "3"})


def dropped(reason: str) -> float:
    return instruments.counted().get_sample_value("sentiment_prediction_log_dropped_total", {"reason": reason}) or 0


def eventually(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_answers_are_logged_by_request_id_and_index(tmp_path):
    settings = Settings(run_dir=tmp_path, model_store=tmp_path, prediction_log_texts=False)
    store = FeedbackStore(connect(settings))
    PredictionLog(store, settings).record("req-1", ["좋다", "싫다"], SCORED)
    assert eventually(lambda: store.stats()["logged_predictions"] == 2)
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT request_id, item, label, version, text FROM predictions "
                                          "ORDER BY item").all()
    assert [tuple(r) for r in rows] == [("req-1", 0, 1, "3", None), ("req-1", 1, 0, "3", None)]  # no texts kept


def test_switched_off_it_logs_nothing(tmp_path):
    settings = Settings(run_dir=tmp_path, model_store=tmp_path, prediction_log=False)
    store = FeedbackStore(connect(settings))
    PredictionLog(store, settings).record("req-1", ["좋다", "싫다"], SCORED)
    time.sleep(0.3)
    assert store.stats()["logged_predictions"] == 0


def test_a_database_that_is_down_or_slow_costs_record_nothing_and_is_counted(tmp_path):
    settings = Settings(run_dir=tmp_path, model_store=tmp_path, prediction_log_queue=1)
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    log = PredictionLog(FeedbackStore(unreachable), settings)
    failed, full = dropped("database"), dropped("queue_full")
    started = time.monotonic()
    for i in range(20):
        log.record(f"req-{i}", ["좋다", "싫다"], SCORED)
    assert time.monotonic() - started < 0.5  # queueing only: the writer waits, the caller does not
    assert dropped("queue_full") > full  # one written at a time, one waiting, the rest dropped
    assert eventually(lambda: dropped("database") > failed)
