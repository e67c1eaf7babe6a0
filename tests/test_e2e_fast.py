"""End to end: real TorchServe + real gateway (gunicorn) on loopback, called over HTTP."""
import json

import pytest
import requests

from core.settings import Settings
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, predict

pytestmark = pytest.mark.e2e


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in response.text and "/site-packages/" not in response.text


def test_seed_examples_answer_in_seed_format(fast_stack):
    response = predict(fast_stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE], "do_fast": True})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["0", "1"]
    assert body["0"]["text"] == SEED_POSITIVE and body["0"]["label"] == "positive"
    assert body["1"]["text"] == SEED_NEGATIVE and body["1"]["label"] == "negative"
    for item in body.values():
        assert set(item) == {"text", "label", "confidence", "model"} and item["model"] == "fast"
        assert isinstance(item["confidence"], float) and 0.5 <= item["confidence"] <= 1.0


def test_single_string_and_default_model(fast_stack):
    response = predict(fast_stack, {"text": SEED_POSITIVE})
    assert response.status_code == 200
    assert response.json()["0"]["label"] == "positive"


def test_many_texts_keep_input_order(fast_stack):
    texts = [f"{i}번째 리뷰 {'최고' if i % 2 else '최악'}" for i in range(12)]
    response = predict(fast_stack, {"text": texts})
    keys = list(json.loads(response.text))  # order as sent on the wire
    assert keys == [str(i) for i in range(12)]
    assert [response.json()[k]["text"] for k in keys] == texts


@pytest.mark.parametrize("flags", [{"use_fast": True}, {"model_type": "ml"}, {"do_fast": True, "model_type": "dl"}])
def test_seed_era_flags_pick_the_fast_model(fast_stack, flags):
    response = predict(fast_stack, {"text": SEED_NEGATIVE, **flags})
    assert response.status_code == 200 and response.json()["0"]["label"] == "negative"


@pytest.mark.parametrize("flags", [{"do_fast": False}, {"use_fast": False}, {"model_type": "dl"}])
def test_accurate_model_not_deployed_is_503(fast_stack, flags):
    response = predict(fast_stack, {"text": SEED_POSITIVE, **flags})
    assert_error(response, 503, "model_not_deployed")
    assert "not deployed" in response.json()["error"]["message"]


@pytest.mark.parametrize("body, field", [
    ({}, "text"),
    ({"text": []}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "\u0085\u3000\u001c"}, "text"),  # whitespace to Python, not all of it to ECMA-262's \s
    ({"text": ["좋다", ""]}, "text"),
    ({"text": ["좋다", 3]}, "text"),
    ({"text": {"a": 1}}, "text"),
    ({"text": None}, "text"),
    ({"text": "좋다", "do_fast": "yes"}, "do_fast"),
    ({"text": "좋다", "do_fast": 1}, "do_fast"),
    ({"text": "좋다", "model_type": "gpu"}, "model_type"),
    ({"text": ["좋다"] * 65}, "text"),
    ({"text": "가" * 2001}, "text"),
    ([1, 2], None),
])
def test_invalid_bodies_are_400_json(fast_stack, body, field):
    response = predict(fast_stack, body)
    assert_error(response, 400, "invalid_request")
    assert response.json()["error"]["field"] == field


def test_malformed_json_is_400(fast_stack):
    response = predict(fast_stack, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(response, 400, "invalid_request")


def test_oversized_body_is_413(fast_stack):
    response = predict(fast_stack, data=b"x" * (Settings().max_body_bytes + 1),
                       headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(response, 413, "body_too_large")


def test_unknown_route_and_method_are_json(fast_stack):
    assert_error(requests.get(f"{fast_stack.gateway_url}/nope", timeout=10), 404, "not_found")
    assert_error(requests.get(f"{fast_stack.gateway_url}/predict", timeout=10), 405, "method_not_allowed")


def test_health_reports_each_served_model(fast_stack):
    """The models /readyz judges too (served_models): this stack serves only the fast one."""
    response = requests.get(f"{fast_stack.gateway_url}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["torchserve"] == "ok" and body["status"] == "ok"
    assert list(body["models"]) == ["fast"] and body["models"]["fast"]["ready"] is True


def test_torchserve_rejects_calls_without_token(fast_stack):
    response = requests.post(f"{fast_stack.inference_url}/predictions/fast", json={"text": "좋다"}, timeout=10)
    assert response.status_code in (400, 401) and "Token" in response.text


def test_gateway_follows_a_rotated_torchserve_key(fast_stack):
    api_key = json.loads(fast_stack.key_file.read_text())["API"]["key"]
    old = json.loads(fast_stack.key_file.read_text())["inference"]["key"]
    rotated = requests.get(f"{fast_stack.management_url}/token?type=inference",
                           headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert rotated.status_code == 200, rotated.text
    assert json.loads(fast_stack.key_file.read_text())["inference"]["key"] != old
    assert predict(fast_stack, {"text": SEED_POSITIVE}).status_code == 200


def test_gateway_renews_a_key_that_torchserve_rejects(fast_stack):
    """An expired key looks like this: TorchServe rejects it, and re-reading the file changes nothing."""
    keys = json.loads(fast_stack.key_file.read_text())
    keys["inference"]["key"] = "expired0"
    fast_stack.key_file.write_text(json.dumps(keys))
    response = predict(fast_stack, {"text": SEED_POSITIVE})
    assert response.status_code == 200, response.text
    assert json.loads(fast_stack.key_file.read_text())["inference"]["key"] != "expired0"


def test_torchserve_restart_recovers_without_gateway_restart(fast_stack):
    """Runs last in this module: it takes TorchServe down and brings it back."""
    fast_stack.stop_torchserve()
    assert_error(predict(fast_stack, {"text": SEED_POSITIVE}), 503, "backend_unavailable")
    health = requests.get(f"{fast_stack.gateway_url}/health", timeout=10)
    assert health.status_code == 503 and health.json()["torchserve"] == "unreachable"
    fast_stack.start_torchserve()
    fast_stack.wait_torchserve()
    fast_stack.wait_ready(180)  # the same gateway process, new TorchServe keys
    response = predict(fast_stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE]})
    assert response.status_code == 200
    assert [v["label"] for v in response.json().values()] == ["positive", "negative"]
