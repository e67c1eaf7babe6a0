"""The fast model's pieces: the vocabulary held as hashes, the NB weighting, the morpheme cache."""
import joblib
import numpy as np
import pytest
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
    params = fast.FastParams(min_df=1)
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


def test_served_scoring_equals_the_pipeline(fast_model_dir):
    """FastScorer's numpy path computes the pipeline's own probabilities."""
    scorer = FastScorer(fast_model_dir / FAST_MODEL_FILE)
    assert scorer.blocks is not None  # the numpy path, not the fallback
    texts = [fast.clean_text(t) for t in DOCS + ["", "a", "!!!", "ㅋ" * 300, "영화 " * 200, "이다"]]
    assert np.allclose(scorer(texts), scorer.pipeline.predict_proba(texts)[:, 1], atol=1e-5)
    for alone in (texts[:1], [""], ["🦄"], ["\x00"]):  # one review, and reviews with no known n-gram at all
        assert np.allclose(scorer(alone), scorer.pipeline.predict_proba(alone)[:, 1], atol=1e-5)


def test_batched_character_ngrams_change_no_logit(fast_model_dir):
    """The character blocks' batched hashing gives bit for bit the logits scikit-learn's hasher gives."""
    scorer = FastScorer(fast_model_dir / FAST_MODEL_FILE)
    char_blocks = [b for b in scorer.blocks.blocks if b.kiwi is None]
    assert char_blocks and all(b.chars is not None for b in char_blocks)
    texts = [fast.clean_text(t) for t in DOCS + ["", "A", "AbC dE", "ㅋ" * 300, "🦄x🦄", "\x00"]]
    assert len(texts) >= fast_model.BATCHED_FROM
    batched = scorer.blocks.logits(texts)
    for b in char_blocks:
        b.chars = None  # back to HashingVectorizer's analyzer and FeatureHasher
    assert np.array_equal(batched, scorer.blocks.logits(texts))
