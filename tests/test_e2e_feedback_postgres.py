"""Three stacks sharing one store and one real PostgreSQL server (deploy/postgres.py), as
replicas do: concurrent feedback from all three, nothing lost and nothing doubled; the database
down: /predict answers as before and the prediction log counts what it dropped, /feedback says
503, and both resume when it is back."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from core.models import FAST
from deploy.postgres import bin_dir, postgres_server
from tests.conftest import make_stack, print_log_tails
from tests.helpers import predict, SEED_NEGATIVE, SEED_POSITIVE, copy_fast_store, require_tool

pytestmark = pytest.mark.e2e
FEEDBACK = "test-feedback-token"
AS_FEEDBACK = {"Authorization": f"Bearer {FEEDBACK}"}
AS_ADMIN = {"Authorization": "Bearer test-admin-token"}
SHARED_ITEMS, OWN_ITEMS = 150, 100


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, model_store):
    if bin_dir() is None:
        require_tool("pg_ctl")
    store = copy_fast_store(model_store, tmp_path_factory.mktemp("pg_store"))
    with postgres_server() as server:
        stacks = [make_stack(tmp_path_factory.mktemp(f"pg_pod{i}"), store, (FAST,), database_url=server.url,
                             replicas=3, admin_token="test-admin-token", feedback_token=FEEDBACK,
                             feedback_rate_limit="1000/second") for i in range(3)]
        starters = [threading.Thread(target=stack.start, args=(300,)) for stack in stacks]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        try:
            yield server, stacks
        finally:
            for stack in stacks:
                stack.stop()
                print_log_tails(stack)


def test_three_replicas_writing_at_once_lose_nothing_and_double_nothing(replicas):
    _, stacks = replicas
    shared = [{"text": f"shared review {i}", "label": i % 2} for i in range(SHARED_ITEMS)]
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()

    def send(stack, own_prefix: str):
        session = requests.Session()
        own = [{"text": f"{own_prefix} review {i}", "label": i % 2} for i in range(OWN_ITEMS)]
        items = shared + own
        for start in range(0, len(items), 10):  # batches, and single items, from every replica at once
            batch = items[start:start + 10]
            answer = session.post(f"{stack.gateway_url}/feedback", json={"items": batch}, headers=AS_FEEDBACK,
                                  timeout=60).json()
            with lock:
                for item, outcome in zip(batch, answer["items"]):
                    assert outcome["status"] in ("stored", "duplicate"), outcome
                    assert acknowledged.setdefault(outcome["id"], item["text"]) == item["text"]

    senders = [threading.Thread(target=send, args=(stack, f"pod{i}")) for i, stack in enumerate(stacks)
               for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(120)
    rows = requests.get(f"{stacks[0].gateway_url}/feedback/export", headers=AS_ADMIN, timeout=30).json()["items"]
    texts = [r["text"] for r in rows]
    assert len(texts) == len(set(texts)) == SHARED_ITEMS + 3 * OWN_ITEMS  # each item once
    assert {r["id"]: r["text"] for r in rows} == acknowledged  # every acknowledged write, under its id


def dropped_for_database(gateway: str) -> float:
    metrics = requests.get(f"{gateway}/metrics", timeout=10).text
    lines = [line for line in metrics.splitlines()
             if line.startswith('sentiment_prediction_log_dropped_total{reason="database"}')]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_the_database_down_never_fails_predict(replicas):
    server, stacks = replicas
    gateway = stacks[1].gateway_url
    with server.paused():
        for _ in range(20):
            answer = predict(stacks[1], {"text": [SEED_POSITIVE, SEED_NEGATIVE]}, timeout=30)
            assert answer.status_code == 200 and [v["label"] for v in answer.json().values()] == ["positive", "negative"]
        down = requests.post(f"{gateway}/feedback", json={"text": "db down", "label": 1}, headers=AS_FEEDBACK,
                             timeout=60)
        assert down.status_code == 503 and down.json()["error"]["code"] == "database_unavailable"
        assert "Traceback" not in down.text
        # the log writes off the request path, in batches: its failed write is counted a moment later
        deadline = time.monotonic() + 15
        while dropped_for_database(gateway) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dropped_for_database(gateway) > 0
    back = requests.post(f"{gateway}/feedback", json={"text": "db back", "label": 1}, headers=AS_FEEDBACK, timeout=60)
    assert back.status_code == 201, back.text
