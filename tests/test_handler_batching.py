"""The shared handler logic, driven the way TorchServe's worker drives it."""
import json

import numpy as np
import pytest

from handlers.artifacts import FAST_MODEL_FILE
from handlers.base import MAX_TEXTS_PER_REQUEST, SentimentHandler
from handlers.fast_handler import FastHandler
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE
from train.inprocess import torchserve_context


class KeywordHandler(SentimentHandler):
    """A stand-in model: positive iff the cleaned text contains '좋'; records each model call."""

    def load_model(self, model_dir, properties):
        self.calls = []

    def predict_positive(self, texts, fast_positive=None):
        self.calls.append(list(texts))
        return np.array([0.9 if "좋" in t else 0.2 for t in texts])


@pytest.fixture
def handler(tmp_path):
    h = KeywordHandler()
    h.initialize(torchserve_context(tmp_path))
    return h


def run(handler, bodies):
    context = torchserve_context(handler.context.system_properties["model_dir"], batch_size=len(bodies))
    rows = [{"body": b} for b in bodies]
    raw = handler.handle(rows, context)
    return [json.loads(r) for r in raw], context


def test_one_model_call_per_batch_and_results_in_order(handler):
    results, _ = run(handler, [{"text": ["좋아요", "별로"]}, {"text": "좋다!!!!!!"}, ["싫다"]])
    assert handler.calls == [["좋아요", "별로", "좋다!!!", "싫다"]]  # cleaned, flattened, one call
    assert [r["label"] for r in results[0]] == ["positive", "negative"]
    assert results[1] == {"label": "positive", "confidence": pytest.approx(0.9)}
    assert results[2] == [{"label": "negative", "confidence": pytest.approx(0.8)}]


def test_bad_request_fails_alone(handler):
    bodies = [{"text": ["좋아요"]}, {"text": [1, 2]}, {"nope": 1}, {"text": []}, b"\xff\xfe", {"text": "좋네"}]
    results, context = run(handler, bodies)
    assert results[0] == [{"label": "positive", "confidence": pytest.approx(0.9)}]
    assert results[5]["label"] == "positive"
    for i in (1, 2, 3, 4):
        assert "error" in results[i]
        assert context.get_response_status(i)[0] == 400
    assert context.get_response_status(0)[0] == 200
    assert all(context.get_response_content_type(i) == "application/json" for i in range(len(bodies)))


def test_raw_bytes_json_and_plain_text_bodies(handler):
    results, _ = run(handler, [json.dumps({"text": ["좋아"]}).encode(), "좋은 영화".encode()])
    assert results[0][0]["label"] == "positive"
    assert results[1]["label"] == "positive"


def test_too_many_texts_is_refused(handler):
    results, _ = run(handler, [{"text": ["좋아"] * (MAX_TEXTS_PER_REQUEST + 1)}])
    assert "at most" in results[0]["error"]
    assert handler.calls == []


def test_all_bad_batch_never_calls_the_model(handler):
    results, _ = run(handler, [{"text": 3}])
    assert "error" in results[0] and handler.calls == []


def test_fast_handler_scores_seed_examples(fast_model_dir):
    handler = FastHandler()
    handler.initialize(torchserve_context(fast_model_dir, serialized_file=FAST_MODEL_FILE))
    context = torchserve_context(fast_model_dir, batch_size=2)
    raw = handler.handle([{"body": {"text": [SEED_POSITIVE, SEED_NEGATIVE]}}, {"body": {"text": SEED_POSITIVE}}], context)
    first, second = (json.loads(r) for r in raw)
    assert [r["label"] for r in first] == ["positive", "negative"]
    assert second["label"] == "positive"
    for r in first + [second]:
        assert 0.5 <= r["confidence"] <= 1.0


def test_fast_explanations_add_up_to_the_logit_exactly(any_fast_model_dir):
    """Every feature's linear contribution lands on characters; with the bias they are the logit."""
    from handlers.fast_explain import linear_contributions
    from handlers.text import clean_text

    handler = FastHandler()
    handler.initialize(torchserve_context(any_fast_model_dir, serialized_file=FAST_MODEL_FILE))
    pipeline = handler.score.pipeline
    for text in (SEED_POSITIVE, SEED_NEGATIVE, "ㅋㅋㅋㅋㅋ 이게 영화냐", "a", "!!!", "이다"):
        cleaned = clean_text(text)
        weights, bias, logit = linear_contributions(pipeline, cleaned)
        assert weights.sum() + bias == pytest.approx(logit, abs=1e-9)
        assert logit == pytest.approx(float(pipeline.decision_function([cleaned])[0]), abs=2e-3)  # served: float32
        explained = handler.explain_text(cleaned)
        assert np.allclose(explained.weights, weights)
    context = torchserve_context(any_fast_model_dir, batch_size=1)
    answer = json.loads(handler.handle([{"body": {"text": [SEED_POSITIVE], "explain": True}}], context)[0])[0]
    spans = answer["explanation"]["spans"]
    assert sum(s["weight"] for s in spans) + answer["explanation"]["bias"] == pytest.approx(
        answer["explanation"]["logit"], abs=1e-4)
    assert "".join(SEED_POSITIVE[s["start"]:s["end"]] for s in spans) == SEED_POSITIVE.replace(" ", "")
