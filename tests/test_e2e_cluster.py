"""Replicas on one shared store: /train on one pod reaches every pod, rollback too, with no failed
requests; a pod started mid-rollout converges; a pod killed mid-traffic does not stop the others.

Each "pod" is a real stack (TorchServe + reconciler + gateway) on its own loopback ports and run
dir; they share the model store, the trained-models dir and the job dir, as pods share a
ReadWriteMany volume. Nothing calls another pod: promotions and rollbacks are registry writes.
"""
import os
import signal
import threading
import time

import pytest
import requests

from core.models import FAST
from deploy import processes
from tests.conftest import FIXTURE_TEST_ROWS, FIXTURE_TRAIN_ROWS, make_stack, print_job_logs, print_log_tails
from tests.helpers import copy_fast_store, SEED_POSITIVE, Traffic, predict, start_training, wait_for_job

pytestmark = pytest.mark.e2e
TOKEN = "cluster-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECONCILE_S = 2
CONVERGE_BOUND_S = 90  # generous for 2 shared cores: each pod loads the new version's workers itself


def served_version(stack) -> str | None:
    try:
        response = predict(stack, {"text": SEED_POSITIVE}, timeout=10)
    except requests.RequestException:
        return None
    return response.headers.get("X-Model-Version") if response.status_code == 200 else None


def wait_all(stacks, version: str, since: float) -> dict[int, float]:
    """Seconds from `since` until each stack serves `version`."""
    reached: dict[int, float] = {}
    deadline = since + CONVERGE_BOUND_S
    while len(reached) < len(stacks) and time.monotonic() < deadline:
        for i, stack in enumerate(stacks):
            if i not in reached and served_version(stack) == version:
                reached[i] = round(time.monotonic() - since, 1)
        time.sleep(0.5)
    assert len(reached) == len(stacks), f"not converged on {version} within {CONVERGE_BOUND_S}s: {reached}"
    return reached


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, model_store):
    shared = tmp_path_factory.mktemp("shared_volume")
    store = shared / "archives"
    store.mkdir()
    copy_fast_store(model_store, store)
    # Four pods share these 2 cores (a real pod has its own): while three of them load a new version
    # at once, a request can wait past the default 10 s, so the gateways here wait up to 30 s.
    common = dict(admin_token=TOKEN, job_dir=shared / "jobs", models_dir=shared / "models",
                  test_limit=FIXTURE_TEST_ROWS, reconcile_seconds=RECONCILE_S, timeout_seconds=30)
    pods = [make_stack(tmp_path_factory.mktemp(f"pod{i}"), store, (FAST,), **common) for i in range(4)]
    starters = [threading.Thread(target=pod.start, args=(300,)) for pod in pods[:3]]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    try:
        yield pods
    finally:
        for pod in pods:
            pod.stop()
        for pod in pods:
            print_log_tails(pod)
        print_job_logs(shared / "jobs")


def test_train_on_one_pod_reaches_every_pod_without_failures(cluster):
    first_three, fourth = cluster[:3], cluster[3]
    assert [served_version(pod) for pod in first_three] == ["1", "1", "1"]
    traffic = [Traffic(pod.gateway_url, pause_s=0.1) for pod in first_three]
    for t in traffic:
        t.start()
    job_id = start_training(first_three[0], AUTH, {"train_limit": FIXTURE_TRAIN_ROWS})
    elsewhere = requests.post(f"{first_three[1].gateway_url}/train", headers=AUTH, timeout=30)
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["job_id"] == job_id  # one job cluster-wide
    late = threading.Thread(target=fourth.start, args=(300,))  # a pod that starts mid-rollout
    late.start()

    job = wait_for_job(first_three[2], job_id)  # read on another pod: the status is cluster-wide too
    promoted_at = time.monotonic()
    assert job["state"] == "succeeded" and job["promoted"] is True and job["version"] == "2", job
    converged = wait_all(first_three, "2", promoted_at)
    late.join()
    converged_late = wait_all([fourth], "2", promoted_at)
    time.sleep(1)
    for t in traffic:
        t.stop()
    print(f"convergence after promotion (s): pods {converged}, late pod {converged_late[0]}; "
          f"requests: {[t.summary() for t in traffic]}")
    for t in traffic:
        assert t.sent > 10 and t.failures == [], t.failures[:5]


def test_rollback_reaches_every_live_pod_while_one_is_killed(cluster):
    alive, killed = [cluster[0], cluster[1], cluster[3]], cluster[2]
    traffic = [Traffic(pod.gateway_url, pause_s=0.1) for pod in alive]
    for t in traffic:
        t.start()
    for role in ("gateway", "reconcile", "torchserve"):  # the pod dies abruptly, mid-traffic
        pid = processes.running_pid(killed.run_dir / f"{role}.pid")
        if pid:
            os.killpg(pid, signal.SIGKILL)
    time.sleep(1)
    response = requests.post(f"{alive[1].gateway_url}/models/fast/rollback", headers=AUTH, timeout=300)
    rolled_back_at = time.monotonic()
    assert response.status_code == 200, response.text
    assert response.json() == {"model": "fast", "serving": "1", "previous": "2"}
    converged = wait_all(alive, "1", rolled_back_at)
    time.sleep(1)
    for t in traffic:
        t.stop()
    print(f"rollback convergence (s): {converged}; requests: {[t.summary() for t in traffic]}")
    for t in traffic:
        assert t.failures == [], t.failures[:5]
