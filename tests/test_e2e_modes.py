"""mode (fast / accurate / auto) and explanations, end to end on both models."""
import json

import pytest

from core.models import ACCURATE, FAST
from core.scoring import positive
from handlers.artifacts import BLEND_FILE
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, predict

pytestmark = pytest.mark.e2e
CANDIDATES = ["그냥 그랬다", "보통이다", "그저 그런 영화", "나쁘진 않은데 좋지도 않다", "음...", "글쎄"]


@pytest.mark.parametrize("body, model", [
    ({"mode": "accurate"}, ACCURATE),
    ({"mode": "fast", "do_fast": False}, FAST),  # mode wins
    ({"mode": "accurate", "use_fast": True}, ACCURATE),
    ({"do_fast": False}, ACCURATE),
    ({}, FAST),
])
def test_mode_wins_and_seed_flags_keep_their_meaning(full_stack, body, model):
    response = predict(full_stack, {"text": [SEED_POSITIVE, SEED_NEGATIVE], **body})
    assert response.status_code == 200, response.text
    assert [item["model"] for item in response.json().values()] == [model, model]


def unsure_review(stack) -> str:
    """A review the fast model is less sure of than the auto threshold."""
    fast = predict(stack, {"text": CANDIDATES, "mode": "fast"}).json()
    return next(item["text"] for item in fast.values() if item["confidence"] < stack.settings.auto_threshold)


def test_auto_sends_only_the_unsure_texts_on(full_stack):
    threshold, UNSURE = full_stack.settings.auto_threshold, unsure_review(full_stack)
    fast = predict(full_stack, {"text": [SEED_POSITIVE, UNSURE], "mode": "fast"}).json()
    assert fast["0"]["confidence"] >= threshold > fast["1"]["confidence"]
    auto = predict(full_stack, {"text": [SEED_POSITIVE, UNSURE], "mode": "auto"})
    assert auto.status_code == 200
    body = auto.json()
    assert [body[k]["model"] for k in body] == [FAST, ACCURATE]
    accurate = predict(full_stack, {"text": UNSURE, "mode": "accurate"}).json()["0"]
    assert body["1"]["confidence"] == pytest.approx(accurate["confidence"])
    assert auto.headers["X-Model-Version"] == "fast:1,accurate:1"


def test_accurate_blends_bert_with_the_fast_models_answer(full_stack, shipped_bert_dir):
    """The gateway passes the fast model's P(positive) on; the accurate worker does not hold the fast model."""
    texts = [SEED_POSITIVE, SEED_NEGATIVE, *CANDIDATES]
    served = [positive(item) for item in predict(full_stack, {"text": texts, "mode": "accurate"}).json().values()]
    client = full_stack.client()
    fast = [positive(r) for r in client.predict(FAST, texts).results]
    bert = [positive(r) for r in client.predict(ACCURATE, texts).results]  # nothing passed on: BERT alone
    weight = json.loads((shipped_bert_dir / BLEND_FILE).read_text())["bert_weight"]
    assert 0 < weight < 1
    assert served == pytest.approx([weight * b + (1 - weight) * f for b, f in zip(bert, fast)], abs=1e-6)
    assert served != pytest.approx(bert, abs=1e-3)


def test_explanations_from_both_models_point_into_the_text_as_sent(full_stack):
    text = "  정말   최고의 영화!!!!!! 강추"
    for mode, method in ((FAST, "linear"), (ACCURATE, "occlusion")):
        response = predict(full_stack, {"text": [text, SEED_NEGATIVE], "mode": mode, "explain": True})
        assert response.status_code == 200, response.text
        first, second = response.json()["0"], response.json()["1"]
        explanation = first["explanation"]
        assert explanation["method"] == method
        assert [s["text"] for s in explanation["spans"]] == ["정말", "최고의", "영화!!!!!!", "강추"]
        assert all(text[s["start"]:s["end"]] == s["text"] for s in explanation["spans"])
        best = max(explanation["spans"], key=lambda s: s["weight"])
        assert best["text"] in ("최고의", "강추") and best["weight"] > 0
        assert min(s["weight"] for s in second["explanation"]["spans"]) < 0  # something pushed it negative
        if method == "linear":  # exact: the spans and the bias add up to the logit
            total = sum(s["weight"] for s in explanation["spans"]) + explanation["bias"]
            assert total == pytest.approx(explanation["logit"], abs=1e-4)
        else:
            assert explanation["bias"] is None


def test_explaining_has_its_own_limit(full_stack):
    limit = full_stack.settings.max_explain_texts
    ok = predict(full_stack, {"text": ["좋다"] * limit, "explain": True})
    assert ok.status_code == 200
    over = predict(full_stack, {"text": ["좋다"] * (limit + 1), "explain": True})
    assert over.status_code == 400 and over.json()["error"]["field"] == "text"
    assert f"at most {limit}" in over.json()["error"]["message"]
    assert predict(full_stack, {"text": "좋다", "mode": "best"}).status_code == 400
    assert predict(full_stack, {"text": "좋다", "explain": "yes"}).status_code == 400


def test_auto_answers_from_the_fast_model_when_the_accurate_one_is_missing(fast_stack):
    """fast_stack serves only the fast model: auto still answers, and says which model did."""
    UNSURE = unsure_review(fast_stack)
    response = predict(fast_stack, {"text": [SEED_POSITIVE, UNSURE], "mode": "auto"})
    assert response.status_code == 200, response.text
    assert [item["model"] for item in response.json().values()] == [FAST, FAST]
    assert predict(fast_stack, {"text": UNSURE, "mode": "accurate"}).status_code == 503
