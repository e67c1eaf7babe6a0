"""The BERT handler on a tiny randomly initialised model that the test builds itself."""
import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer, BertForSequenceClassification

from handlers.artifacts import BLEND_FILE, ONNX_FILE
from handlers import accurate_handler
from handlers.accurate_handler import AccurateHandler, length_passes, positive_index
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE
from train.inprocess import torchserve_context
from train.bert.modeling import bert_config
from train.bert.tokenizer import build_wordpiece, wrap

CORPUS = [SEED_POSITIVE, SEED_NEGATIVE, "정말 재밌는 영화 최고", "지루하고 별로였다", "배우 연기 좋다 ㅋㅋ"] * 20


def tiny_model_dir(path, id2label=None):
    tokenizer = wrap(build_wordpiece(CORPUS, vocab_size=200, min_frequency=1), model_max_length=128)
    config = bert_config(len(tokenizer), tokenizer.pad_token_id, hidden=32, layers=2, heads=2)
    if id2label is not None:
        config.id2label, config.label2id = id2label, {v: k for k, v in id2label.items()}
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def handler(model_dir):
    h = AccurateHandler()
    h.initialize(torchserve_context(model_dir))
    return h


def reference_positive(model_dir, texts, positive=1):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        return np.array([torch.softmax(model(**tokenizer(t, return_tensors="pt")).logits, -1)[0, positive].item()
                         for t in texts])


def test_batch_matches_one_by_one_scoring(handler, model_dir):
    texts = ["짧다", SEED_NEGATIVE, "중간 길이의 리뷰 입니다", SEED_POSITIVE * 3, "좋아"] * 15  # > one forward pass
    assert np.allclose(handler.predict_positive(texts), reference_positive(model_dir, texts), atol=1e-5)


def test_requests_in_a_batch_get_their_own_answers(handler, model_dir):
    bodies = [{"text": [SEED_POSITIVE, SEED_NEGATIVE]}, {"text": 42}, {"text": SEED_NEGATIVE}]
    context = torchserve_context(model_dir, batch_size=3)
    first, bad, single = (json.loads(r) for r in handler.handle([{"body": b} for b in bodies], context))
    expected = reference_positive(model_dir, [SEED_POSITIVE, SEED_NEGATIVE])
    for result, p in zip(first, expected):
        assert result["label"] == ("positive" if p >= 0.5 else "negative")
        assert result["confidence"] == pytest.approx(max(p, 1 - p), abs=1e-5)
    assert "error" in bad and context.get_response_status(1)[0] == 400
    assert set(single) == {"label", "confidence"}


def test_labels_follow_config_id2label(tmp_path):
    swapped = tiny_model_dir(tmp_path, id2label={0: "positive", 1: "negative"})
    handler = AccurateHandler()
    handler.initialize(torchserve_context(swapped))
    assert handler.positive_index == 0
    expected = reference_positive(swapped, [SEED_POSITIVE], positive=0)
    assert handler.predict_positive([SEED_POSITIVE])[0] == pytest.approx(expected[0], abs=1e-5)


@pytest.mark.parametrize("id2label, index", [
    ({0: "negative", 1: "positive"}, 1), ({0: "POSITIVE", 1: "NEGATIVE"}, 0), ({0: "LABEL_0", 1: "LABEL_1"}, 1)])
def test_positive_index(id2label, index):
    assert positive_index(id2label) == index


def test_non_binary_config_is_refused():
    with pytest.raises(ValueError, match="binary"):
        positive_index({0: "a", 1: "b", 2: "c"})


def test_blend_mixes_bert_with_the_fast_probabilities_sent(tmp_path):
    blended = tiny_model_dir(tmp_path)
    (blended / BLEND_FILE).write_text(json.dumps({"bert_weight": 0.25}))
    handler = AccurateHandler()
    handler.initialize(torchserve_context(blended))
    texts = [SEED_POSITIVE, SEED_NEGATIVE, "좋아"]
    bert = reference_positive(blended, texts)
    batch = [{"body": {"text": texts[:2], "fast_positive": [0.9, 0.2]}}, {"body": {"text": texts[2]}}]
    answers = [json.loads(a) for a in handler.handle(batch, torchserve_context(blended, batch_size=2))]
    served = [a["confidence"] if a["label"] == "positive" else 1 - a["confidence"] for a in [*answers[0], answers[1]]]
    expected = [0.25 * bert[0] + 0.75 * 0.9, 0.25 * bert[1] + 0.75 * 0.2, bert[2]]  # no fast_positive: BERT alone
    assert np.allclose(served, expected, atol=1e-5)


@pytest.mark.parametrize("fast_positive", [[0.5], [0.5, 1.5], "0.5", [0.5, None], [True, 0.5]])
def test_malformed_fast_probabilities_fail_their_request(tmp_path, fast_positive):
    model = tiny_model_dir(tmp_path)
    handler = AccurateHandler()
    handler.initialize(torchserve_context(model))
    answers = handler.handle([{"body": {"text": ["좋아", "싫어"], "fast_positive": fast_positive}}],
                             torchserve_context(model))
    assert "fast_positive" in json.loads(answers[0])["error"]


def test_int8_option_from_model_config_quantizes(model_dir):
    context = torchserve_context(model_dir)
    context.model_yaml_config = {"handler": {"quantize": "int8"}}
    handler = AccurateHandler()
    handler.initialize(context)
    linears = [m for m in handler.model.modules() if type(m).__name__ == "Linear"]
    assert linears and all("quantized.dynamic" in type(m).__module__ for m in linears)
    texts = [SEED_POSITIVE, SEED_NEGATIVE, "좋아"]
    assert np.allclose(handler.predict_positive(texts), reference_positive(model_dir, texts), atol=0.05)


def test_onnx_runtime_matches_eager(model_dir, tmp_path):
    from train.export_onnx import export_onnx

    onnx_dir = shutil.copytree(model_dir, tmp_path / "with_onnx")
    export_onnx(onnx_dir, onnx_dir / ONNX_FILE)
    context = torchserve_context(onnx_dir)
    context.model_yaml_config = {"handler": {"runtime": "onnx"}}
    handler = AccurateHandler()
    handler.initialize(context)
    assert type(handler.logits).__name__ == "OnnxLogits"
    texts = ["짧다", SEED_NEGATIVE, "중간 길이의 리뷰 입니다", SEED_POSITIVE * 3, "좋아"] * 15
    assert np.allclose(handler.predict_positive(texts), reference_positive(model_dir, texts), atol=0.05)


def test_onnx_runtime_without_the_export_is_a_clear_error(model_dir):
    context = torchserve_context(model_dir)
    context.model_yaml_config = {"handler": {"runtime": "onnx"}}
    with pytest.raises(FileNotFoundError, match="make archive"):
        AccurateHandler().initialize(context)


@given(st.lists(st.integers(0, 400), max_size=300))
def test_forward_passes_group_texts_of_similar_length(lengths):
    passes = length_passes(lengths)
    assert sorted(i for p in passes for i in p.tolist()) == list(range(len(lengths)))  # each text once
    for p in passes:
        sizes = [lengths[i] for i in p]
        assert 1 <= len(p) <= accurate_handler.MODEL_BATCH
        assert max(sizes) <= accurate_handler.PADDING_RATIO * max(min(sizes), accurate_handler.SHORT)
    assert all(max(lengths[i] for i in a) <= min(lengths[i] for i in b) for a, b in zip(passes, passes[1:]))


def test_a_long_text_does_not_pad_the_short_ones():
    assert [p.tolist() for p in length_passes([5, 120, 6, 7])] == [[0, 2, 3], [1]]


def test_blend_scores_are_recomputed_when_the_serving_code_changes(model_dir, tmp_path, monkeypatch):
    """train.blend caches BERT's scores; after a change to the serving code the cache is not reused."""
    from train.blend import bert_served_probs

    texts = {"dev": [SEED_POSITIVE, SEED_NEGATIVE, "좋아"]}
    cache = tmp_path / "cache"
    cache.mkdir()
    first = bert_served_probs(model_dir, texts, cache)["dev"]
    np.save(cache / "bert_dev_probs_onnx.npy", np.full(3, 0.123))  # a marker in place of the scores
    assert bert_served_probs(model_dir, texts, cache)["dev"].tolist() == [0.123] * 3  # same code: reused
    changed = tmp_path / "accurate_handler.py"
    changed.write_text(open(accurate_handler.__file__).read() + "\n# another forward-pass rule\n")
    monkeypatch.setattr(accurate_handler, "__file__", str(changed))
    assert np.allclose(bert_served_probs(model_dir, texts, cache)["dev"], first)  # re-scored
