"""/train end to end: real TorchServe, real gateway, real training on an NSMC subset.

The tests run in order on one stack: promote v2 under traffic, gate out v3, restart, roll back.
"""
import time

import pytest
import requests

from tests.conftest import FIXTURE_TEST_ROWS, FIXTURE_TRAIN_ROWS, make_stack, print_job_logs, running
from tests.helpers import SEED_NEGATIVE, Traffic, copy_fast_store, predict, start_training, wait_for_job

pytestmark = pytest.mark.e2e
TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def rollout_stack(tmp_path_factory, model_store):
    store = copy_fast_store(model_store, tmp_path_factory.mktemp("rollout_store"))
    run_dir = tmp_path_factory.mktemp("run_rollout")
    stack = make_stack(run_dir, store, admin_token=TOKEN, models_dir=tmp_path_factory.mktemp("rollout_models"),
                       test_limit=FIXTURE_TEST_ROWS)
    try:
        with running(stack):
            yield stack
    finally:
        print_job_logs(run_dir / "jobs")


def served_version(stack):
    return requests.get(f"{stack.gateway_url}/health", timeout=10).json()["models"]["fast"]["version"]


def registered_versions(stack) -> set[str]:
    return {v["modelVersion"] for v in stack.client().versions("fast")}


def test_changing_endpoints_need_the_admin_token(rollout_stack):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for path in ("/train", "/models/fast/rollback"):
            response = requests.post(f"{rollout_stack.gateway_url}{path}", headers=headers, timeout=10)
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert not list((rollout_stack.run_dir / "jobs").glob("*.log"))  # nothing was started


def test_bad_train_bodies_are_400(rollout_stack):
    for body in ({"model": "bert"}, {"wait": "yes"}, {"train_limit": 5}, {"surprise": 1}):
        response = requests.post(f"{rollout_stack.gateway_url}/train", json=body, headers=AUTH, timeout=10)
        assert response.status_code == 400, body


def test_rollout_under_traffic_promotes_with_zero_failures(rollout_stack):
    assert served_version(rollout_stack) == "1"
    traffic = Traffic(rollout_stack.gateway_url)
    traffic.start()
    job_id = start_training(rollout_stack, AUTH, {"train_limit": FIXTURE_TRAIN_ROWS})
    latest = requests.get(f"{rollout_stack.gateway_url}/train", timeout=10).json()
    assert latest["id"] == job_id and "elapsed_seconds" in latest
    job = wait_for_job(rollout_stack, job_id)
    time.sleep(1)  # some traffic after the switch too
    traffic.stop()
    print(f"rollout: {traffic.sent} requests, {traffic.summary()}, job {job}")
    assert job["state"] == "succeeded" and job["promoted"] is True, job
    assert job["version"] == "2" and job["test_accuracy"] > 0.7
    assert traffic.failures == [], traffic.failures[:5]
    assert traffic.sent > 20
    assert served_version(rollout_stack) == "2"


def test_worse_candidate_is_gated_out(rollout_stack):
    response = requests.post(f"{rollout_stack.gateway_url}/train", json={"train_limit": 1000, "wait": True},
                             headers=AUTH, timeout=900)
    job = response.json()
    assert response.status_code == 200 and job["state"] == "succeeded", job
    assert job["promoted"] is False and job["version"] == "3"
    assert job["test_accuracy"] < job["serving_accuracy"] - 0.005
    assert served_version(rollout_stack) == "2"
    assert (rollout_stack.store_dir / "fast.v3.mar").exists()  # archived, not served
    assert "3" not in registered_versions(rollout_stack)  # and not left loaded


def test_restart_serves_the_promoted_version(rollout_stack):
    rollout_stack.stop_torchserve()
    rollout_stack.start_torchserve()
    rollout_stack.wait_torchserve()
    rollout_stack.wait_ready(180)  # the same gateway process
    assert served_version(rollout_stack) == "2"


def test_rollback_returns_to_the_previous_version(rollout_stack):
    response = requests.post(f"{rollout_stack.gateway_url}/models/fast/rollback", headers=AUTH, timeout=300)
    assert response.status_code == 200, response.text
    assert response.json() == {"model": "fast", "serving": "1", "previous": "2"}
    assert served_version(rollout_stack) == "1"
    assert rollout_stack.store.serving("fast").version == "1"
    answer = predict(rollout_stack, {"text": SEED_NEGATIVE}, timeout=30).json()
    assert answer["0"]["label"] == "negative"
    unknown = requests.post(f"{rollout_stack.gateway_url}/models/other/rollback", headers=AUTH, timeout=10)
    assert unknown.status_code == 404
