"""The fast model's pieces: the vocabulary held as hashes, the NB weighting, the morpheme cache."""
import pickle

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer

from handlers.artifacts import FAST_MODEL_FILE
from handlers import fast_model
from handlers.fast_model import CompactNgrams, FastScorer, NBLogisticRegression
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE
from train import fast, morphemes
from train.data import Split

DOCS = [SEED_POSITIVE, SEED_NEGATIVE, "재밌다 재밌다 진짜", "지루하다 진짜", "배우 연기 좋다", "연기 별로 지루"] * 3 + ["한 번만"]


def _rows(matrix) -> list[list[float]]:
    matrix = sparse.csr_matrix(matrix)
    return [sorted(matrix.getrow(i).data.tolist()) for i in range(matrix.shape[0])]


@pytest.mark.parametrize("analyzer, ngram_range", [("char", (1, 5)), ("word", (1, 2))])
def test_compact_ngrams_keep_what_a_min_df_vocabulary_keeps(analyzer, ngram_range):
    kwargs = {"analyzer": analyzer, "ngram_range": ngram_range}
    if analyzer == "word":
        kwargs["token_pattern"] = r"\S+"
    reference = CountVectorizer(min_df=2, **kwargs).fit(DOCS)
    compact = CompactNgrams(HashingVectorizer(n_features=fast.HASH_COLUMNS, alternate_sign=False, norm=None,
                                              **kwargs), min_df=2).fit(DOCS)
    assert len(compact.columns_) == len(reference.vocabulary_)
    unseen = ["처음 보는 문장", SEED_POSITIVE + " 그리고 끝"]
    assert _rows(compact.transform(DOCS + unseen)) == _rows(reference.transform(DOCS + unseen))
    ngrams = sorted(reference.vocabulary_)
    columns = compact.columns_of(ngrams + ["없는말없는말"])
    assert sorted(columns[:-1].tolist()) == list(range(len(ngrams))) and columns[-1] == -1


COLUMNS = st.lists(st.integers(0, 2**31 - 2), max_size=300, unique=True).map(sorted)


@settings(max_examples=200, deadline=None)
@given(columns=COLUMNS, others=st.lists(st.integers(0, 2**31 - 2), max_size=50), data=st.data())
def test_lookup_finds_each_kept_column_and_nothing_else(columns, others, data):
    """The bucketed lookup against a dict, with repeated keys, misses, and crowded buckets (hashes
    close together share a bucket)."""
    crowded = [c + d for c in columns[:5] for d in (1, 2, 3) if c + d < 2**31 - 1]
    compact = CompactNgrams(HashingVectorizer())
    compact.columns_ = np.array(sorted(set(columns + crowded)), dtype=np.int32)
    kept = {int(c): i for i, c in enumerate(compact.columns_)}
    keys = data.draw(st.lists(st.sampled_from(columns + others) if columns + others else st.just(0), max_size=80))
    keys = np.array(keys + others, dtype=np.int64)
    assert compact.lookup(keys).tolist() == [kept.get(int(k), -1) for k in keys]
    copy = pickle.loads(pickle.dumps(compact))
    assert getattr(copy, "_bucket_starts", None) is None  # the table is rebuilt, never saved
    assert copy.lookup(keys).tolist() == compact.lookup(keys).tolist()


def test_nb_weights_match_the_textbook_formula():
    X = sparse.csr_matrix(np.array([[1, 0, 2], [0, 1, 1], [1, 1, 0], [0, 0, 3]], dtype=np.float32))
    y = np.array([1, 0, 1, 0])
    model = NBLogisticRegression(C=1.0).fit(X, y)
    present = (X.toarray() > 0).astype(float)
    positive, negative = 1 + present[y == 1].sum(0), 1 + present[y == 0].sum(0)
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression(C=1.0, solver="liblinear").fit(X.toarray() * ratio, y)
    assert np.allclose(model.coef_, linear.coef_.ravel() * ratio, atol=1e-5)
    assert np.allclose(X.toarray(), [[1, 0, 2], [0, 1, 1], [1, 1, 0], [0, 0, 3]])  # copy=True leaves X alone


def test_training_reads_morphemes_from_the_cache_and_never_saves_them(tmp_path, monkeypatch):
    train = Split([SEED_POSITIVE, SEED_NEGATIVE, "재밌다 진짜", "지루하다 진짜"] * 5, np.array([1, 0, 1, 0] * 5))
    params = fast.FastParams(min_df=1, use_morphemes=True)
    pipeline, _ = fast.fit(train, params, n_jobs=1, cache_dir=tmp_path)
    cache = joblib.load(morphemes.cache_file(tmp_path))
    assert set(cache) == {fast.clean_text(t) for t in train.texts}  # every text analysed once, kept
    assert morphemes.kiwi_step(pipeline).precomputed is None  # nothing of it in the saved model

    marked = {text: "캐시/NNG" for text in cache}  # the cache wins over Kiwi
    joblib.dump(marked, morphemes.cache_file(tmp_path))
    pipeline, _ = fast.fit(train, params, n_jobs=1, cache_dir=tmp_path)
    morpheme_block = dict(pipeline.named_steps["features"].transformer_list)["morphemes"]
    assert len(morpheme_block.named_steps["ngrams"].columns_) == 1
    saved = tmp_path / "model.joblib"
    joblib.dump(pipeline, saved)
    assert morphemes.kiwi_step(joblib.load(saved)).transform(["재밌다"]) != ["캐시/NNG"]  # served: Kiwi itself


def test_served_scoring_equals_the_pipeline(any_fast_model_dir):
    """FastScorer's numpy path computes the pipeline's own probabilities."""
    scorer = FastScorer(any_fast_model_dir / FAST_MODEL_FILE)
    assert scorer.blocks is not None  # the numpy path, not the fallback
    texts = [fast.clean_text(t) for t in DOCS + ["", "a", "!!!", "ㅋ" * 300, "영화 " * 200, "이다"]]
    assert np.allclose(scorer(texts), scorer.pipeline.predict_proba(texts)[:, 1], atol=1e-5)
    for alone in (texts[:1], [""], ["🦄"], ["\x00"]):  # one review, and reviews with no known n-gram at all
        assert np.allclose(scorer(alone), scorer.pipeline.predict_proba(alone)[:, 1], atol=1e-5)


def test_batched_ngrams_change_no_logit(any_fast_model_dir):
    """Every block's batched hashing (characters, and morphemes as tokens) gives bit for bit the
    logits scikit-learn's analyzer and hasher give."""
    scorer = FastScorer(any_fast_model_dir / FAST_MODEL_FILE)
    blocks = scorer.blocks.blocks
    assert all(b.batched is not None for b in blocks)
    texts = [fast.clean_text(t) for t in DOCS + ["", "A", "AbC dE", "ㅋ" * 300, "🦄x🦄", "\x00"]]
    assert len(texts) >= fast_model.BATCHED_FROM
    batched = scorer.blocks.logits(texts)
    for b in blocks:
        b.batched = None  # back to HashingVectorizer's analyzer and FeatureHasher
    assert np.array_equal(batched, scorer.blocks.logits(texts))


def test_fast_dev_scores_are_cached_per_recipe(tmp_path, monkeypatch):
    """train.blend caches the fast recipe's dev scores; another recipe is fitted again, not read back."""
    from train import blend

    labels = np.array(([1, 0] * 9 + [1]) * 10)
    monkeypatch.setattr(blend, "load_split", lambda split, data_dir: Split(DOCS * 10, labels))
    cache = tmp_path / "fast_dev_probs.npy"
    first = blend.fast_dev_probs(None, cache)
    np.save(cache, np.full(len(first), 0.123))  # a marker in place of the scores
    assert blend.fast_dev_probs(None, cache).tolist() == [0.123] * len(first)  # same recipe: reused
    assert 0.123 not in blend.fast_dev_probs(None, cache, fast.FastParams(C=1.0)).tolist()  # another: refitted


def test_a_saved_models_recipe_is_read_back_from_its_metrics():
    """train.blend and bench.cascade refit the served model's own recipe on train minus dev."""
    import json
    from dataclasses import asdict

    recipe = fast.FastParams(char_ngrams=(1, 6), word_ngrams=(1, 2), use_morphemes=True, C=2.0)
    metrics = json.loads(json.dumps({"params": {**asdict(recipe), "retired_option": 1}}))
    assert fast.params_of(metrics) == recipe
    assert fast.params_of({}) == fast.FastParams()


def test_a_retrain_keeps_the_serving_models_recipe(morpheme_model_dir, tmp_path):
    """/train's job fits the recipe of the version it may replace, read from its archive."""
    from core.models import FAST
    from core.store import ModelStore
    from train.archive import publish
    from train.rollout import serving_recipe

    store = ModelStore(tmp_path / "store")
    assert serving_recipe(store) == fast.FastParams()  # nothing served yet: the default recipe
    publish(FAST, morpheme_model_dir, store)
    assert serving_recipe(store) == fast.FastParams(min_df=1, use_morphemes=True)


def test_unknown_ngram_share_is_the_same_batched_or_alone_and_sees_foreign_text(any_fast_model_dir):
    """The input-drift signal (the share of a text's character n-grams the model does not know)
    does not depend on how texts are batched, texts without n-grams included (1 character: none of
    2-5 characters), and is higher for text unlike the training data."""
    scorer = FastScorer(any_fast_model_dir / FAST_MODEL_FILE)
    texts = [fast.clean_text(t) for t in DOCS + ["", "ㅋ", "a", "정부는 기준금리를 동결하기로 결정했다", "🦄🐙🦄"]]
    positive, unknown = scorer.score(texts)
    assert np.array_equal(positive, scorer(texts)) and len(unknown) == len(texts)
    for small in (texts[-2:], texts[-3:-1], ["좋다", "ㅋ"], ["ㅋ"], [""]):  # under BATCHED_FROM, ending in no n-grams
        assert np.allclose(scorer.score(small)[1], [scorer.score([t])[1][0] for t in small])
    alone = np.array([scorer.score([t])[1][0] for t in texts])
    assert np.allclose(unknown, alone)
    assert unknown[texts.index("")] == 0 and 0 <= unknown.min() and unknown.max() <= 1
    assert unknown[texts.index("🦄🐙🦄")] == 1.0  # nothing of it was seen in training
    assert unknown[:len(DOCS)].mean() < unknown[texts.index("정부는 기준금리를 동결하기로 결정했다")]
