"""Live signals end to end (gateway/live_signals.py): a real stack gets NSMC-like traffic, then a
shifted stream; the estimate and the unknown n-gram share move on /metrics and /models, the shadow
counts agreement without touching answers, and the alert rules fire on series recorded from the run."""
from __future__ import annotations

import subprocess
import time

import pytest
import requests
import yaml

from bench.drift import shifted_stream
from core.models import ACCURATE, FAST
from tests.conftest import make_stack, running
from tests.helpers import predict, require_tool
from tests.test_e2e_observability import scrape, value
from tests.test_monitoring import ALERTS
from train.data import load_split

pytestmark = pytest.mark.e2e

SHIFTED = shifted_stream()  # Korean economic news and English reviews: text unlike movie reviews


@pytest.fixture(scope="module")
def shadow_stack(tmp_path_factory, model_store, full_stack):
    """Both models (full_stack published the accurate one), every fast-only request shadowed."""
    with running(make_stack(tmp_path_factory.mktemp("run_signals"), model_store, (FAST, ACCURATE),
                            shadow_rate=1.0)) as stack:
        yield stack


def send(stack, texts, size=10):
    answers = []
    for i in range(0, len(texts), size):
        response = predict(stack, {"text": texts[i:i + size], "do_fast": True}, timeout=30)
        assert response.status_code == 200, response.text
        answers.extend(response.json().values())
    return answers


def window(before, after) -> dict:
    """Mean confidence and unknown n-gram share of the fast model's texts between two scrapes."""
    def moved(name):
        return sum(v for (n, labels), v in after.items() if n == name and dict(labels).get("model", FAST) == FAST) - \
            sum(v for (n, labels), v in before.items() if n == name and dict(labels).get("model", FAST) == FAST)
    count = moved("sentiment_prediction_confidence_count")
    return {"texts": count, "confidence": moved("sentiment_prediction_confidence_sum") / count,
            "unknown": moved("sentiment_unknown_ngram_share_sum") / moved("sentiment_unknown_ngram_share_count")}


def test_drift_moves_the_estimate_and_the_unknown_share_and_the_alerts_fire(shadow_stack, nsmc_dir, tmp_path):
    models = requests.get(f"{shadow_stack.gateway_url}/models", timeout=10).json()
    reference = models[FAST]["serving"]["reference"]
    assert reference and {"confidence_mean", "positive_ratio", "unknown_ngram_share", "text_chars"} <= set(reference)
    samples = scrape(shadow_stack)
    version = models[FAST]["serving"]["version"]
    assert value(samples, "sentiment_reference_unknown_ngram_share", model=FAST, version=version) == \
        reference["unknown_ngram_share"]

    nsmc = [t for t in load_split("test", nsmc_dir).texts[7::25] if t.strip()][:200]
    start = scrape(shadow_stack)
    send(shadow_stack, nsmc)
    middle = scrape(shadow_stack)
    send(shadow_stack, SHIFTED)
    end = scrape(shadow_stack)
    like, shifted = window(start, middle), window(middle, end)
    print(f"reference {reference}\nNSMC-like {like}\nshifted {shifted}")

    assert like["texts"] == len(nsmc) and shifted["texts"] == len(SHIFTED)
    assert abs(like["unknown"] - reference["unknown_ngram_share"]) < 0.05, (like, reference)
    assert abs(like["confidence"] - reference["confidence_mean"]) < 0.05, (like, reference)
    assert shifted["unknown"] > reference["unknown_ngram_share"] + 0.1, (shifted, reference)
    assert shifted["confidence"] < reference["confidence_mean"] - 0.05, (shifted, reference)

    live = requests.get(f"{shadow_stack.gateway_url}/models", timeout=10).json()[FAST]["serving"]["live"]
    assert live["texts"] >= len(nsmc) + len(SHIFTED) and 0 < live["estimated_accuracy"] < 1

    # The recorded shifted window, as a steady stream a minute for an hour, through the real rules.
    promtool = require_tool("promtool")
    per_minute = {name: round(end[key] - middle[key], 4) for key in end for name in [key[0]]
                  if dict(key[1]).get("model", FAST) == FAST and dict(key[1]).get("version") == version
                  and name in ("sentiment_prediction_confidence_sum", "sentiment_prediction_confidence_count",
                               "sentiment_unknown_ngram_share_sum", "sentiment_unknown_ngram_share_count")}
    series = [{"series": f'{name}{{instance="gw", model="{FAST}", version="{version}"}}',
               "values": f"0+{step}x60"} for name, step in per_minute.items()]
    series += [{"series": f'sentiment_reference_{key}{{instance="gw", model="{FAST}", version="{version}"}}',
                "values": f"{reference[key]}x60"} for key in ("confidence_mean", "unknown_ngram_share")]
    rules = {r["alert"]: r for group in yaml.safe_load(ALERTS.read_text())["groups"] for r in group["rules"]}

    def expected(name):
        labels = {"version": version, **({"model": FAST} if "model" in rules[name]["expr"].split("by (")[1] else {})}
        annotations = {k: v.replace("{{ $labels.model }}", FAST).replace("{{ $labels.version }}", version)
                       for k, v in rules[name]["annotations"].items()}
        return {"exp_labels": {**rules[name]["labels"], **labels}, "exp_annotations": annotations}

    firing = ["SentimentEstimatedAccuracyDrop", "SentimentUnknownNgramsRising"]
    rules_test = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [{"eval_time": "50m", "alertname": name, "exp_alerts": [expected(name)]}
                            for name in firing]}]}
    path = tmp_path / "recorded_test.yml"
    path.write_text(yaml.safe_dump(rules_test, allow_unicode=True))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def shadowed_total(samples) -> float:
    return sum(v for k, v in samples.items() if k[0] == "sentiment_shadow_texts_total")


def settled(stack, timeout: float = 30) -> dict:
    """A scrape once the shadow counts have stopped moving (its queue is empty)."""
    last = scrape(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = scrape(stack)
        if shadowed_total(now) == shadowed_total(last):
            return now
        last = now
    raise AssertionError("the shadow counts kept moving")


def test_shadow_scoring_counts_agreement_and_leaves_answers_alone(shadow_stack, full_stack, nsmc_dir):
    texts = [t for t in load_split("test", nsmc_dir).texts[3::50] if t.strip()][:60]
    before = settled(shadow_stack)  # what earlier tests sent to the shadow has been scored
    shadowed = send(shadow_stack, texts)
    unshadowed = send(full_stack, texts)  # the default rate: almost never shadowed
    assert shadowed == unshadowed
    for _ in range(50):
        after = scrape(shadow_stack)
        compared = sum(v - before.get(k, 0.0) for k, v in after.items() if k[0] == "sentiment_shadow_texts_total")
        if compared >= len(texts):
            break
        time.sleep(0.2)
    assert compared == len(texts)
    agree = sum(v - before.get(k, 0.0) for k, v in after.items()
                if k[0] == "sentiment_shadow_texts_total" and dict(k[1])["outcome"] == "agree")
    assert agree / compared > 0.8
    live = requests.get(f"{shadow_stack.gateway_url}/models", timeout=10).json()[FAST]["serving"]["live"]
    assert list(live["shadow_agreement"].values())[0]["texts"] >= len(texts)
