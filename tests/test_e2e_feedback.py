"""Feedback end to end: real TorchServe and gateway processes, the real database (SQLite here;
PostgreSQL in test_e2e_feedback_postgres.py), the real client command and a real /train job.

In order on one stack: a served prediction is named by its request id and corrected; bad feedback
gets clear errors; a file of labelled NSMC rows and a poisoned batch go in through
`python -m sentiment_client feedback`; /train learns from the first, quarantines the second and
gates on the held-out feedback; a gateway killed with SIGKILL mid-stream loses no acknowledged write.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from core.models import FAST
from deploy import processes
from tests.conftest import FIXTURE_TEST_ROWS, FIXTURE_TRAIN_ROWS, make_stack, print_job_logs, running
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, copy_fast_store, predict, wait_for_job
from train.data import load_split

pytestmark = pytest.mark.e2e
ADMIN, FEEDBACK = "test-admin-token", "test-feedback-token"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
AS_FEEDBACK = {"Authorization": f"Bearer {FEEDBACK}"}
FEEDBACK_ROWS = 4000  # NSMC train rows outside the fixture model's subset, sent as labelled feedback
POISON_ROWS = 600  # of them again, labels flipped, from one source


@pytest.fixture(scope="module")
def stack(tmp_path_factory, model_store):
    store = copy_fast_store(model_store, tmp_path_factory.mktemp("feedback_store"))
    run_dir = tmp_path_factory.mktemp("run_feedback")
    stack = make_stack(run_dir, store, (FAST,), admin_token=ADMIN, feedback_token=FEEDBACK,
                       models_dir=tmp_path_factory.mktemp("feedback_models"), train_limit=FIXTURE_TRAIN_ROWS,
                       test_limit=FIXTURE_TEST_ROWS, feedback_min_holdout=200, quarantine_confidence=0.9,
                       feedback_rate_limit="1000/second")
    try:
        with running(stack):
            yield stack
    finally:
        print_job_logs(run_dir / "jobs")


def post_feedback(stack, body, headers=AS_FEEDBACK):
    return requests.post(f"{stack.gateway_url}/feedback", json=body, headers=headers, timeout=30)


def correct(stack, request_id: str, index: int, label, **extra) -> requests.Response:
    """POST /feedback for a served prediction; the log is written off the request path, so a
    correction sent at once may come before it: retried for a few seconds."""
    deadline = time.monotonic() + 10
    while True:
        answer = post_feedback(stack, {"request_id": request_id, "index": index, "label": label, **extra})
        if answer.status_code != 404 or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def test_a_served_prediction_is_named_by_request_id_and_corrected(stack):
    served = predict(stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE]}, headers={"X-Request-Id": "review-42"},
                     timeout=30)
    assert served.status_code == 200 and set(served.json()) == {"0", "1"}  # the seed's shape, nothing added
    stored = correct(stack, "review-42", 1, "positive", source="moderators")
    assert stored.status_code == 201, stored.text
    again = correct(stack, "review-42", 1, "positive", source="moderators")
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "id": stored.json()["id"]}
    stats = requests.get(f"{stack.gateway_url}/feedback/stats", headers=AS_ADMIN, timeout=10).json()
    assert stats["by_source"] == {"moderators": 1} and stats["logged_predictions"] >= 2
    assert list(stats["by_model_version"]) == [f"fast:{served.headers['X-Model-Version']}"]
    row = requests.get(f"{stack.gateway_url}/feedback/export", headers=AS_ADMIN, timeout=10).json()["items"][0]
    assert (row["text"], row["label"], row["predicted_label"]) == (SEED_NEGATIVE, "positive", "negative")

    erased = requests.delete(f"{stack.gateway_url}/predictions/review-42", headers=AS_ADMIN, timeout=10).json()
    assert erased == {"request_id": "review-42", "predictions_deleted": 2, "feedback_deleted": 1}
    assert correct(stack, "review-42", 0, "negative").status_code == 404


def test_bad_feedback_gets_clear_errors_and_stores_nothing_wrong(stack):
    assert post_feedback(stack, {"text": "좋다", "label": 1}, headers={}).status_code == 401
    assert post_feedback(stack, {"text": "좋다", "label": 1}, headers={"Authorization": "Bearer nope"}).status_code == 401
    for body, field in (({"text": "좋다", "label": "great"}, "label"), ({"text": " ", "label": 1}, "text"),
                        ({"text": "x" * 3000, "label": 1}, "text"), ({"label": 1}, None),
                        ({"request_id": "a b", "index": 0, "label": 1}, "request_id"),
                        ({"items": [], "source": "x"}, "items"), ({"items": [{"text": "a", "label": 1}] * 1001}, "items")):
        answer = post_feedback(stack, body)
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "invalid_request" and error["field"] == field and "Traceback" not in answer.text
    mixed = post_feedback(stack, {"items": [{"text": "볼만하다", "label": "positive"}, {"text": "", "label": 0},
                                            {"request_id": "never-served", "index": 3, "label": 0}]}).json()
    assert (mixed["stored"], mixed["errors"]) == (1, 2)
    assert [i["status"] for i in mixed["items"]] == ["stored", "error", "error"]
    assert mixed["items"][2]["code"] == "unknown_prediction"
    assert requests.get(f"{stack.gateway_url}/feedback/stats", headers=AS_FEEDBACK, timeout=10).status_code == 401


def write_rows(path, texts, labels, flip: bool = False):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(["document", "label"])
        for text, label in zip(texts, labels):
            writer.writerow([text.replace("\t", " "), 1 - label if flip else label])


def send_file(stack, path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentiment_client", "feedback", str(path), "--url", stack.gateway_url,
                           "--token", FEEDBACK, *args], capture_output=True, text=True, timeout=600)


def test_train_learns_from_feedback_and_quarantines_poison(stack, nsmc_dir, tmp_path):
    _, rest = load_split("train", nsmc_dir).subset_and_rest(FIXTURE_TRAIN_ROWS)
    rest = rest.subset(FEEDBACK_ROWS + POISON_ROWS, seed=1)
    good, poison = tmp_path / "labelled.tsv", tmp_path / "poison.tsv"
    write_rows(good, rest.texts[:FEEDBACK_ROWS], rest.labels[:FEEDBACK_ROWS])
    write_rows(poison, rest.texts[FEEDBACK_ROWS:], rest.labels[FEEDBACK_ROWS:], flip=True)
    sent = send_file(stack, good, "--source", "partner")
    assert "stored" in sent.stderr and "failed" in sent.stderr, sent.stderr
    assert send_file(stack, poison, "--source", "attacker").stderr.count("stored") == 1
    resent = send_file(stack, good, "--source", "partner")  # idempotent: nothing new
    assert " 0 stored" in resent.stderr, resent.stderr
    before = predict(stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE]}, timeout=30)
    poisoned = requests.get(f"{stack.gateway_url}/feedback/stats", headers=AS_ADMIN, timeout=10).json()["by_source"]

    started = requests.post(f"{stack.gateway_url}/train", json={}, headers=AS_ADMIN, timeout=30)
    job = wait_for_job(stack, started.json()["id"])
    assert job["state"] == "succeeded", job
    manifest = job["feedback"]
    assert manifest["quarantined"] > POISON_ROWS / 4, manifest
    assert manifest["train_rows"] > FEEDBACK_ROWS * 0.7 and manifest["holdout_rows"] > 200
    assert job["gate"]["feedback"]["verdict"] in ("not worse", "worse") and job["gate"]["feedback"]["rows"] > 200

    stats = requests.get(f"{stack.gateway_url}/feedback/stats", headers=AS_ADMIN, timeout=10).json()
    assert stats["quarantined"] == manifest["quarantined"]
    quarantined = [r for page in export_all(stack) for r in page if r["quarantined"]]
    by_attacker = sum(r["source"] == "attacker" for r in quarantined)
    # the flipped batch goes whole (half its rows contradict the model); of the honest rows only NSMC's
    # own label noise that the model is sure of
    assert manifest["quarantined_sources"] == ["attacker"] and by_attacker == poisoned["attacker"]
    assert len(quarantined) - by_attacker < 0.03 * FEEDBACK_ROWS
    after = predict(stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE]}, timeout=30)
    assert [v["label"] for v in after.json().values()] == [v["label"] for v in before.json().values()]
    if job["promoted"]:
        models = requests.get(f"{stack.gateway_url}/models", timeout=10).json()
        assert models["fast"]["serving"]["feedback"]["train_ids_sha256"] == manifest["train_ids_sha256"]


def export_all(stack):
    after = 0
    while after is not None:
        page = requests.get(f"{stack.gateway_url}/feedback/export", params={"after": after}, headers=AS_ADMIN,
                            timeout=30).json()
        yield page["items"]
        after = page["next_after"]


def test_every_acknowledged_write_survives_a_killed_gateway(stack):
    acknowledged: dict[int, str] = {}
    stop = threading.Event()

    def stream(worker: int):
        session = requests.Session()
        for i in range(100_000):
            if stop.is_set():
                return
            text = f"kill test {worker}-{i}"
            try:
                answer = session.post(f"{stack.gateway_url}/feedback", json={"text": text, "label": i % 2},
                                      headers=AS_FEEDBACK, timeout=10)
            except requests.RequestException:
                continue
            if answer.status_code == 201:
                acknowledged[answer.json()["id"]] = text

    writers = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(3)
    os.killpg(processes.running_pid(stack.run_dir / "gateway.pid"), signal.SIGKILL)
    time.sleep(1)
    stop.set()
    for writer in writers:
        writer.join(30)
    assert len(acknowledged) > 20, "the stream should have written before the kill"
    stack.start_gateway()
    stack.wait_ready(120)
    stored = {r["id"]: r["text"] for page in export_all(stack) for r in page}
    missing = {i: t for i, t in acknowledged.items() if stored.get(i) != t}
    assert missing == {}, f"{len(missing)} acknowledged writes lost"
