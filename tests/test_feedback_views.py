"""POST /feedback's guards and the automatic /train trigger, on the gateway in-process (Flask's test
client) with a real SQLite database: no TorchServe is needed for these."""
from __future__ import annotations

import time

import pytest

from core.jobs import FINISHED, Jobs
from core.settings import Settings
from gateway.app import create_app

AS_FEEDBACK = {"Authorization": "Bearer fb"}


def gateway(tmp_path, **overrides):
    settings = Settings(run_dir=tmp_path / "run", model_store=tmp_path / "store", admin_token="admin",
                        feedback_token="fb", **overrides)
    return create_app(settings).test_client(), settings


def test_a_client_over_its_rate_limit_gets_429_and_when_to_retry(tmp_path):
    client, _ = gateway(tmp_path, feedback_rate_limit="2/minute")
    for i in range(2):
        assert client.post("/feedback", json={"text": f"r{i}", "label": 1}, headers=AS_FEEDBACK).status_code == 201
    limited = client.post("/feedback", json={"text": "r2", "label": 1}, headers=AS_FEEDBACK)
    assert limited.status_code == 429 and limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # another client (here: another token) has a budget of its own
    assert client.post("/feedback", json={"text": "r2", "label": 1},
                       headers={"Authorization": "Bearer admin"}).status_code == 201


def test_a_full_store_refuses_with_409_and_keeps_what_it_has(tmp_path):
    client, _ = gateway(tmp_path, feedback_max_rows=1000)
    batch = {"items": [{"text": f"t{i}", "label": i % 2} for i in range(1000)]}
    assert client.post("/feedback", json=batch, headers=AS_FEEDBACK).json["stored"] == 1000
    full = client.post("/feedback", json={"text": "one more", "label": 1}, headers=AS_FEEDBACK)
    assert full.status_code == 409 and full.json["error"]["code"] == "feedback_full"
    assert client.get("/feedback/stats", headers={"Authorization": "Bearer admin"}).json["rows"] == 1000


def wait_finished(jobs: Jobs, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (job := jobs.read(job_id)) is None or job["state"] not in FINISHED or not jobs.lock_is_free():
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


@pytest.mark.parametrize("debounce", [0, 3600])
def test_enough_new_feedback_starts_a_job_once_per_debounce(tmp_path, debounce):
    client, settings = gateway(tmp_path, retrain_after_rows=3, retrain_debounce_seconds=debounce)
    jobs = Jobs(settings.job_dir)
    client.post("/feedback", json={"items": [{"text": "a", "label": 1}, {"text": "b", "label": 0}]}, headers=AS_FEEDBACK)
    assert jobs.current_id() is None  # 2 rows: not yet
    client.post("/feedback", json={"text": "c", "label": 1}, headers=AS_FEEDBACK)
    first = jobs.current_id()
    assert first is not None and jobs.read(first)["params"]["trigger"] == "feedback"
    wait_finished(jobs, first)  # no TorchServe here: it fails, which is a finished job all the same
    client.post("/feedback", json={"items": [{"text": t, "label": 1} for t in "def"]}, headers=AS_FEEDBACK)
    second = jobs.current_id()
    assert (second != first) == (debounce == 0)
