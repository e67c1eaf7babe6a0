"""The batched n-gram hashing (characters and tokens) computes scikit-learn's own hashes and columns."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from handlers.ngram_hashing import NgramHasher, hashed_column, murmurhash3_32 as batched_murmurhash
from handlers.fast_model import remove_spaces

# Every UTF-8 length (1 to 4 bytes), upper case, and the whitespace the analyzer squeezes.
TEXT = st.text(alphabet=st.sampled_from(list("aZ 09!\t\n\u3000é한국어영화ㅋ😀\U0001F984\u0800")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=25), min_size=1, max_size=20), st.integers(0, 2**32 - 1))
def test_the_hash_is_murmurhash3_of_each_slice(keys, seed):
    data = np.frombuffer(b"".join(keys), dtype=np.uint8)
    lengths = np.array([len(k) for k in keys])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    expected = [murmurhash3_32(k, seed=seed) for k in keys]
    assert batched_murmurhash(data, starts, lengths, seed).tolist() == expected


def test_columns_follow_feature_hashers_rule_for_the_most_negative_hash():
    n = 2**31 - 1
    assert hashed_column(np.array([-(2**31), -5, 5, 0, 2**31 - 1]), n).tolist() == [1, 5, 5, 0, 0]
    assert hashed_column(np.array([-(2**31)]), 1000).tolist() == [(2147483647 - 999) % 1000]


def _dense_counts(rows, columns, shape):
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    return matrix


@pytest.mark.parametrize("options", [
    {"ngram_range": (1, 5)},  # the fast model's first block (lower-cased)
    {"ngram_range": (2, 5), "preprocessor": remove_spaces},  # its second block
    {"ngram_range": (3, 3), "lowercase": False, "n_features": 1000},
])
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=12))
def test_batched_character_ngrams_are_the_hashing_vectorizers(options, texts):
    vectorizer = HashingVectorizer(analyzer="char", alternate_sign=False, norm=None, **options)
    hasher = NgramHasher.of(vectorizer)
    rows, columns = hasher(texts)
    expected = vectorizer.transform(texts)
    assert (_dense_counts(rows, columns, expected.shape) != expected).nnz == 0


# Token texts: kiwipiepy's `form/tag` analyses, and words with punctuation, case and odd whitespace.
TOKENS = st.lists(st.sampled_from(["영화/NNG", "가/JKS", "최고/NNG", "ㅋㅋ/SW", "😀/SW", "a/SL", "Ab", "x,y", "!", "é"]),
                  max_size=12).map(" ".join)


@pytest.mark.parametrize("options", [
    {"token_pattern": r"\S+", "lowercase": False, "ngram_range": (1, 2)},  # the fast model's morpheme block
    {"ngram_range": (1, 3)},  # the default token pattern (words of 2+ characters), lower-cased
    {"token_pattern": r"\S+", "ngram_range": (2, 4), "n_features": 1000},
])
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.one_of(TOKENS, TEXT), min_size=1, max_size=12))
def test_batched_token_ngrams_are_the_hashing_vectorizers(options, texts):
    vectorizer = HashingVectorizer(analyzer="word", alternate_sign=False, norm=None, **options)
    rows, columns = NgramHasher.of(vectorizer)(texts)
    expected = vectorizer.transform(texts)
    assert (_dense_counts(rows, columns, expected.shape) != expected).nnz == 0


def test_only_plain_windows_take_the_batched_path():
    assert NgramHasher.of(HashingVectorizer(analyzer="char", alternate_sign=False)) is not None
    assert NgramHasher.of(HashingVectorizer(analyzer="word", alternate_sign=False)) is not None
    assert NgramHasher.of(HashingVectorizer(analyzer="char")) is None  # signed values
    assert NgramHasher.of(HashingVectorizer(analyzer="char_wb", alternate_sign=False)) is None
    assert NgramHasher.of(HashingVectorizer(analyzer="word", alternate_sign=False, stop_words=["a"])) is None
    assert NgramHasher.of(HashingVectorizer(analyzer=str.split, alternate_sign=False)) is None
