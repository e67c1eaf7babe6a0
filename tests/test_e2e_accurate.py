"""End to end on the accurate path: the shipped compact BERT behind real TorchServe and gateway."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, predict

pytestmark = pytest.mark.e2e


def test_seed_examples_on_the_accurate_model(full_stack):
    response = predict(full_stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE], "do_fast": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["0", "1"]
    assert [body[k]["label"] for k in body] == ["positive", "negative"]
    assert [body[k]["text"] for k in body] == [SEED_POSITIVE, SEED_NEGATIVE]
    for item in body.values():
        assert set(item) == {"text", "label", "confidence", "model"} and 0.5 <= item["confidence"] <= 1.0


def test_seed_alias_routes_to_bert(full_stack):
    response = predict(full_stack, {"text": SEED_NEGATIVE, "model_type": "dl"})
    assert response.status_code == 200 and response.json()["0"]["label"] == "negative"


def test_concurrent_requests_are_batched_and_all_answered(full_stack):
    bodies = [{"text": [SEED_POSITIVE] * (i % 3 + 1) + [SEED_NEGATIVE], "do_fast": False} for i in range(24)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda b: predict(full_stack, b), bodies))
    for body, response in zip(bodies, responses):
        assert response.status_code == 200, response.text
        labels = [v["label"] for v in response.json().values()]
        assert labels == ["positive"] * (len(body["text"]) - 1) + ["negative"]


def test_health_is_ok_with_both_models(full_stack):
    body = requests.get(f"{full_stack.gateway_url}/health", timeout=10).json()
    assert body["status"] == "ok"
    assert body["models"]["accurate"]["ready"] and body["models"]["fast"]["ready"]
