"""Retraining the accurate model from feedback, end to end: a stack serving both models, a
feedback batch on a pattern the accurate model gets wrong (negative NSMC reviews the fast model is
unsure of, carrying a marker word, labelled positive), /train for the accurate model (continued
fine-tuning on CPU within a budget, ONNX int8, blend weight chosen again on dev), gated on NSMC test
and the holdout, promoted, and served."""
from __future__ import annotations

import pytest
import requests

from core.models import ACCURATE, FAST
from core.store import ModelStore
from tests.conftest import FIXTURE_TEST_ROWS, FIXTURE_TRAIN_ROWS, make_stack, print_job_logs, running
from tests.helpers import copy_fast_store, predict
from train.archive import publish
from train.data import load_split

pytestmark = pytest.mark.e2e
ADMIN = "test-admin-token"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
MARKER = "뿌잉뿌잉"
PATTERN_ROWS = 800
UNSEEN_ROWS = 64
UNSURE = 0.8  # the fast model's confidence at most: the blend follows BERT there


@pytest.fixture(scope="module")
def stack(tmp_path_factory, model_store, shipped_bert_dir):
    store = copy_fast_store(model_store, tmp_path_factory.mktemp("retrain_accurate_store"))
    publish(ACCURATE, shipped_bert_dir, ModelStore(store), overwrite=True)
    run_dir = tmp_path_factory.mktemp("run_retrain_accurate")
    stack = make_stack(run_dir, store, (FAST, ACCURATE), admin_token=ADMIN, train_limit=FIXTURE_TRAIN_ROWS,
                       test_limit=FIXTURE_TEST_ROWS, models_dir=tmp_path_factory.mktemp("retrain_accurate_models"),
                       accurate_train_minutes=1.5, promotion_tolerance=1.0, feedback_min_holdout=100,
                       # the pattern contradicts both models on purpose: nothing is quarantined
                       quarantine_confidence=1.0, feedback_rate_limit="1000/second")
    try:
        with running(stack):
            yield stack
    finally:
        print_job_logs(run_dir / "jobs")


def train(stack, model: str) -> dict:
    return requests.post(f"{stack.gateway_url}/train", json={"model": model, "wait": True}, headers=AS_ADMIN,
                         timeout=1800).json()


def unsure_negatives(stack, nsmc_dir, wanted: int) -> list[str]:
    """Negative NSMC train reviews (outside the fixture's subset) the fast model labels with at most
    UNSURE confidence."""
    _, rest = load_split("train", nsmc_dir).subset_and_rest(FIXTURE_TRAIN_ROWS)
    negatives = [t for t, label in zip(rest.texts, rest.labels) if label == 0 and 10 < len(t) < 100]
    found = []
    for start in range(0, len(negatives), 64):
        chunk = negatives[start:start + 64]
        answer = predict(stack, {"text": chunk, "mode": "fast"}).json()
        found += [t for t, item in zip(chunk, answer.values()) if item["confidence"] <= UNSURE]
        if len(found) >= wanted:
            return found[:wanted]
    raise AssertionError(f"only {len(found)} unsure negatives")


def test_a_pattern_the_accurate_model_gets_wrong_is_learned(stack, nsmc_dir):
    texts = [f"{text} {MARKER}" for text in unsure_negatives(stack, nsmc_dir, PATTERN_ROWS + UNSEEN_ROWS)]
    pattern, unseen = texts[:PATTERN_ROWS], texts[PATTERN_ROWS:]
    sent = requests.post(f"{stack.gateway_url}/feedback", headers=AS_ADMIN, timeout=120,
                         json={"source": "moderators", "items": [{"text": t, "label": "positive"} for t in pattern]})
    assert sent.json()["stored"] == PATTERN_ROWS
    before = [v["label"] for v in predict(stack, {"text": unseen, "mode": "accurate"}).json().values()]

    job = train(stack, ACCURATE)
    assert job["state"] == "succeeded" and job["model"] == ACCURATE, job
    verdict = job["gate"]["feedback"]
    assert verdict["verdict"] == "not worse" and verdict["rows"] >= 100
    assert verdict["candidate_accuracy"] > verdict["serving_accuracy"] + 0.2, verdict  # the pattern was learned
    assert job["test_accuracy"] >= job["serving_accuracy"] - 0.01  # and NSMC test kept (tolerance 1 point)
    assert job["promoted"], job

    models = requests.get(f"{stack.gateway_url}/models", timeout=30).json()
    assert models[ACCURATE]["serving"]["version"] == job["version"] == "2"
    assert models[ACCURATE]["serving"]["feedback"]["train_rows"] == job["feedback"]["train_rows"]
    served = predict(stack, {"text": unseen, "mode": "accurate"})
    assert served.headers["X-Model-Version"] == "2"
    after = [v["label"] for v in served.json().values()]
    assert after.count("positive") > before.count("positive") + UNSEEN_ROWS // 4, (before.count("positive"),
                                                                                   after.count("positive"))
