"""Job status reads in the gateway (Flask test client; no TorchServe needed for these)."""
import os

import pytest

from core.jobs import CURRENT_FILE, Jobs, JobStatus
from core.redact import redact_paths
from core.store import ModelStore


def test_no_job_yet_is_404(client):
    assert client.get("/train").status_code == 404
    assert client.get("/train/../../etc").status_code == 404
    assert client.get("/train/zzzzzzzzzzzz").json["error"]["code"] == "no_job"


def test_running_job_whose_process_died_reads_as_failed(client, gateway_settings):
    job_dir = gateway_settings.job_dir
    JobStatus(job_dir, "0123456789ab").update(state="running", step="train")
    (job_dir / CURRENT_FILE).write_text("0123456789ab")
    job = client.get("/train").json
    assert job["state"] == "failed" and job["error"]["step"] == "train"


def test_running_job_holding_the_lock_reads_as_running(client, gateway_settings):
    job_dir = gateway_settings.job_dir
    JobStatus(job_dir, "0123456789ab").update(state="running", step="train")
    lock = Jobs(job_dir).acquire_lock()
    try:
        job = client.get("/train/0123456789ab").json
        assert job["state"] == "running" and job["elapsed_seconds"] >= 0
        busy = client.post("/train", headers={"Authorization": "Bearer t"})
        assert busy.status_code == 409
    finally:
        os.close(lock)


def test_failed_job_names_no_server_paths(client, gateway_settings):
    job_dir = gateway_settings.job_dir
    JobStatus(job_dir, "0123456789ab").update(state="failed", error={
        "step": "load data", "message": "[Errno 2] No such file or directory: '/srv/data/nsmc/ratings_train.txt'"})
    job = client.get("/train/0123456789ab").json
    assert job["error"]["message"] == "[Errno 2] No such file or directory: 'ratings_train.txt'"


@pytest.mark.parametrize("text, expected", [
    ("cannot open /work/main/archives/nsmc_fast.v3.mar", "cannot open nsmc_fast.v3.mar"),
    ("see http://127.0.0.1:8081/models/x", "see http://127.0.0.1:8081/models/x"),  # URLs stay
    ("text[0]: at most 2000 characters", "text[0]: at most 2000 characters"),
    ("ratio 1/2 of /tmp/x", "ratio 1/2 of x"),
])
def test_redact_paths(text, expected):
    assert redact_paths(text) == expected


def test_rollback_to_a_deleted_archive_is_409(client, gateway_settings):
    store = ModelStore(gateway_settings.model_store)  # the client's model store
    store.add_version("fast", "1", "fast.mar", {})
    store.add_version("fast", "2", "fast.v2.mar", {})
    store.promote("fast", "1")
    store.promote("fast", "2")
    (store.path / "fast.v2.mar").touch()  # fast.mar (version 1) is gone
    response = client.post("/models/fast/rollback", headers={"Authorization": "Bearer t"})
    assert response.status_code == 409 and response.json["error"]["code"] == "previous_archive_missing"


def test_retraining_the_accurate_model_needs_a_served_one(client):
    """Its job continues from the serving BERT: where none is served, 409 at once, no job started."""
    response = client.post("/train", json={"model": "accurate"}, headers={"Authorization": "Bearer t"})
    assert response.status_code == 409 and response.json["error"]["code"] == "model_not_served"
    assert client.get("/train").status_code == 404
    unknown = client.post("/train", json={"model": "bert"}, headers={"Authorization": "Bearer t"})
    assert unknown.status_code == 400 and unknown.json["error"]["field"] == "model"
