"""How modes call the models (core/scoring.py), against a recording stand-in for TorchServe's
client; the real path is covered end to end in test_e2e_modes.py."""
import pytest

from core.errors import BackendUnavailable
from core.scoring import score
from core.torchserve import Answer


class Recorder:
    """Answers like TorchServe: fast says positive with the confidence given per text."""

    def __init__(self, fast_confidence: dict, down: tuple = ()):
        self.fast_confidence, self.down, self.calls = fast_confidence, down, []

    def predict(self, model, texts, request_id=None, explain=False, fast_positive=None):
        self.calls.append((model, list(texts), fast_positive))
        if model in self.down:
            raise BackendUnavailable(f"{model} is down")
        if model == "fast":
            return Answer([{"label": "positive", "confidence": self.fast_confidence[t]} for t in texts], "1")
        return Answer([{"label": "negative", "confidence": 0.9} for _ in texts], "1")


def test_accurate_sends_the_fast_probabilities_with_the_texts():
    client = Recorder({"a": 0.99, "b": 0.6})
    scored = score(client, "accurate", ["a", "b"], threshold=0.8)
    assert client.calls == [("fast", ["a", "b"], None), ("accurate", ["a", "b"], [0.99, 0.6])]
    assert [i["model"] for i in scored.items] == ["accurate", "accurate"] and not scored.fell_back


def test_accurate_answers_from_bert_alone_when_the_fast_model_is_down():
    client = Recorder({}, down=("fast",))
    scored = score(client, "accurate", ["a"], threshold=0.8)
    assert client.calls[-1] == ("accurate", ["a"], None)
    assert scored.items[0]["model"] == "accurate" and scored.fell_back


def test_auto_sends_on_only_the_unsure_texts_with_their_fast_probabilities():
    client = Recorder({"sure": 0.99, "unsure": 0.6})
    scored = score(client, "auto", ["sure", "unsure"], threshold=0.8)
    assert client.calls[1] == ("accurate", ["unsure"], [pytest.approx(0.6)])
    assert [i["model"] for i in scored.items] == ["fast", "accurate"]


def test_auto_keeps_the_fast_answers_when_the_accurate_model_is_down():
    client = Recorder({"unsure": 0.6}, down=("accurate",))
    scored = score(client, "auto", ["unsure"], threshold=0.8)
    assert scored.items[0]["model"] == "fast" and scored.fell_back
