"""What an operator sees: Prometheus metrics, JSON request logs with ids, model info, version headers."""
import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, predict

pytestmark = pytest.mark.e2e


def scrape(stack) -> dict[tuple, float]:
    text = requests.get(f"{stack.gateway_url}/metrics", timeout=10).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_and_histograms_move_with_traffic(fast_stack):
    before = scrape(fast_stack)
    for _ in range(5):
        ok = predict(fast_stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE]}, timeout=30)
        assert ok.status_code == 200
    bad = predict(fast_stack, {"text": ""}, timeout=30)
    unavailable = predict(fast_stack, {"text": "좋다", "do_fast": False},
                          timeout=30)  # only the fast model is deployed here
    assert bad.status_code == 400 and unavailable.status_code == 503
    after = scrape(fast_stack)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sentiment_requests_total", endpoint="/predict", model="fast", status="200") == 5
    assert moved("sentiment_requests_total", endpoint="/predict", model="none", status="400") == 1
    assert moved("sentiment_requests_total", endpoint="/predict", model="accurate", status="503") == 1
    assert moved("sentiment_request_seconds_count", endpoint="/predict", model="fast") == 5
    assert moved("sentiment_request_seconds_bucket", endpoint="/predict", model="fast", le="+Inf") == 5
    assert moved("sentiment_reviews_total", model="fast") == 10
    assert moved("sentiment_backend_errors_total", kind="not_deployed") == 1
    assert value(after, "sentiment_backend_up") == 1
    assert value(after, "sentiment_model_serving_version", model="fast") == 1


def test_each_request_logs_one_json_line_with_its_id(fast_stack):
    response = predict(fast_stack, {"text": [SEED_POSITIVE]}, headers={"X-Request-Id": "trace-me-42"}, timeout=30)
    assert response.headers["X-Request-Id"] == "trace-me-42"
    generated = requests.get(f"{fast_stack.gateway_url}/livez", timeout=10).headers["X-Request-Id"]
    assert len(generated) == 32
    hostile_id = "<script>alert(1)</script>" * 6
    hostile = requests.get(f"{fast_stack.gateway_url}/livez", headers={"X-Request-Id": hostile_id}, timeout=10)
    assert len(hostile.headers["X-Request-Id"]) == 32  # replaced, never echoed or logged raw
    time.sleep(0.5)
    lines = [json.loads(line) for line in (fast_stack.run_dir / "gateway.log").read_text().splitlines()
             if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "trace-me-42"]
    assert len(mine) == 1
    assert mine[0] | {"latency_ms": 0, "time": 0, "pid": 0} == mine[0] | {
        "message": "request", "endpoint": "/predict", "method": "POST", "model": "fast", "version": "1", "texts": 1,
        "status": 200, "latency_ms": 0, "time": 0, "pid": 0, "level": "INFO", "logger": "gateway.request",
        "request_id": "trace-me-42"}


def test_predict_answers_carry_the_serving_version(fast_stack):
    response = predict(fast_stack, {"text": SEED_POSITIVE}, timeout=30)
    assert response.headers["X-Model-Version"] == "1"
    assert set(response.json()["0"]) == {"text", "label", "confidence", "model"}  # the seed's, plus model


def test_models_reports_what_torchserve_serves(fast_stack):
    info = requests.get(f"{fast_stack.gateway_url}/models", timeout=10).json()
    client = fast_stack.client()
    described = client.describe("fast")
    fast = info["fast"]
    assert fast["serving"]["version"] == described["modelVersion"] == fast["torchserve"]["default_version"]
    assert fast["torchserve"]["workers"] == len(described["workers"])
    assert fast["torchserve"]["worker_states"] == [w["status"] for w in described["workers"]]
    assert fast["torchserve"]["registered_versions"] == sorted(v["modelVersion"] for v in client.versions("fast"))
    assert fast["previous"] is None
    assert 0.7 < fast["serving"]["test_accuracy"] < 1
    assert set(fast["serving"]["data_blob_ids"]) == {"train", "test"} and fast["serving"]["created"]


def test_probes(fast_stack):
    assert requests.get(f"{fast_stack.gateway_url}/livez", timeout=10).json() == {"status": "alive"}
    ready = requests.get(f"{fast_stack.gateway_url}/readyz", timeout=10)
    assert ready.status_code == 200 and set(ready.json()["models"]) == {"fast"}
    assert ready.json()["models"]["fast"]["version"] == "1"


def test_torchserve_logs_requests_once_in_its_access_log_only(fast_stack):
    """deploy/log4j2.xml: TorchServe's own setup wrote ~9 lines a request, most of them three times."""
    logs = fast_stack.run_dir / "logs"
    marker = "once-only-marker"
    for _ in range(3):
        assert predict(fast_stack, {"text": marker}, timeout=30).status_code == 200
    time.sleep(0.5)
    access = (logs / "access_log.log").read_text()
    assert access.count('"POST /predictions/fast HTTP/1.1" 200') >= 3
    frontend = (logs / "ts_log.log").read_text() + (fast_stack.run_dir / "torchserve.log").read_text()
    assert "Model fast loaded" in frontend  # the frontend still says what it serves
    for per_request in ("ACCESS_LOG", "Sending response for jobId", "Backend response time", "[DEBUG]", "[METRICS]"):
        assert per_request not in frontend


def test_concurrent_requests_travel_together_and_each_gets_its_own_answer(fast_stack, nsmc_dir):
    """core/coalesce.py live: 64 requests from 16 clients at once take fewer TorchServe calls than
    requests, and every answer is the one the same text gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    from train.data import load_split

    texts = [t for t in load_split("test", nsmc_dir).texts[:200] if t.strip()][:64]
    url = f"{fast_stack.gateway_url}/predict"
    alone = [predict(fast_stack, {"text": t}, timeout=30).json()["0"] for t in texts]
    before = scrape(fast_stack)
    with ThreadPoolExecutor(16) as pool, requests.Session() as session:
        together = list(pool.map(lambda t: session.post(url, json={"text": t}, timeout=30), texts))
    after = scrape(fast_stack)
    assert all(r.status_code == 200 for r in together)
    assert [r.json()["0"] for r in together] == alone
    calls = value(after, "sentiment_backend_call_requests_count", model="fast") - \
        value(before, "sentiment_backend_call_requests_count", model="fast")
    carried = value(after, "sentiment_backend_call_requests_sum", model="fast") - \
        value(before, "sentiment_backend_call_requests_sum", model="fast")
    assert carried == len(texts)
    assert calls < len(texts), f"{calls} calls for {len(texts)} concurrent requests: none were merged"
