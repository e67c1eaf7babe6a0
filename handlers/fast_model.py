"""scikit-learn pieces of the fast model.

They live in `handlers/` because the joblib pickle refers to them by module path, and this
package is what ships inside the .mar next to the pickle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from handlers.ngram_hashing import NgramHasher

_COLUMN_BITS = 2 ** 31 - 1  # hashed columns are below 2^31: counted() packs (row, column) in one int64
# Texts in a call from which the batched n-gram hashing pays: it costs ~0.25 ms a call in numpy
# steps, and from 4 texts on it beats hashing n-gram strings one by one (~0.1 against ~0.2 ms a text).
BATCHED_FROM = 4
_LOOKUP_CHUNK = 1 << 20


def remove_spaces(text: str) -> str:
    """Preprocessor for character n-grams that ignore (unreliable) spacing."""
    return text.replace(" ", "")


class CompactNgrams(TransformerMixin, BaseEstimator):
    """N-gram counts over a pruned vocabulary held as a sorted array of 31-bit hashes, not a dict.

    `vectorizer` (a HashingVectorizer with norm=None, alternate_sign=False) hashes each n-gram to a
    column; fit keeps the columns of n-grams seen in at least `min_df` training texts, and
    transform renumbers those 0..k-1 (one searchsorted) and drops the rest. With 2^31 columns two
    n-grams rarely share one, so this is CountVectorizer(min_df) without its vocabulary: ~4 bytes
    an n-gram instead of ~250 in a Python dict.
    """

    def __init__(self, vectorizer: HashingVectorizer, min_df: int = 2):
        self.vectorizer = vectorizer
        self.min_df = min_df

    def fit(self, X, y=None):
        return self._fit(self.vectorizer.transform(X))

    def fit_transform(self, X, y=None):
        hashed = self.vectorizer.transform(X)
        return self._fit(hashed)._compact(hashed)

    def _fit(self, hashed):
        hashed = sparse.csr_matrix(hashed)
        columns, df = np.unique(hashed.indices, return_counts=True)
        self.columns_ = columns[df >= self.min_df].astype(np.int32)
        self._bucket_starts = None  # rebuilt for these columns on first lookup
        return self

    def transform(self, X):
        return self._compact(self.vectorizer.transform(X))

    def _compact(self, hashed):
        hashed = sparse.csr_matrix(hashed)
        position = self.lookup(hashed.indices)
        kept = position >= 0
        kept_before = np.concatenate([[0], np.cumsum(kept)])  # entries stay in row order: no row array
        return sparse.csr_matrix((hashed.data[kept], position[kept].astype(np.int32), kept_before[hashed.indptr]),
                                 shape=(hashed.shape[0], len(self.columns_)))

    def entries(self, hashed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, compact column, count) of each kept entry of a hashed CSR matrix, row by row."""
        position = self.lookup(hashed.indices)
        kept = position >= 0
        rows = np.repeat(np.arange(hashed.shape[0]), np.diff(hashed.indptr))
        return rows[kept], position[kept], hashed.data[kept]

    def counted(self, rows: np.ndarray, hashed_columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """entries() from one (row, hashed column) pair per n-gram occurrence: the pairs counted."""
        pairs, counts = np.unique((np.asarray(rows, dtype=np.int64) << 31) | hashed_columns, return_counts=True)
        position = self.lookup(pairs & _COLUMN_BITS)
        kept = position >= 0
        return pairs[kept] >> 31, position[kept], counts[kept]

    def lookup(self, hashed_columns: np.ndarray) -> np.ndarray:
        """The compact column of each hashed column, -1 for n-grams not kept.

        The kept columns are uniform 31-bit hashes, so their leading bits index a table of where each
        bucket of them starts (~1 column a bucket): a key is compared with its bucket's few columns
        instead of being binary-searched among ~1M (~3x faster on a batch's keys)."""
        keys = np.asarray(hashed_columns)
        if len(keys) > _LOOKUP_CHUNK:  # bounds the temporary arrays when a training set is transformed
            chunks = range(0, len(keys), _LOOKUP_CHUNK)
            return np.concatenate([self.lookup(keys[i:i + _LOOKUP_CHUNK]) for i in chunks])
        columns = self.columns_
        # The keys in the columns' own dtype: otherwise numpy casts all ~1M columns on every call.
        keys = keys.astype(columns.dtype, copy=False)
        starts, shift = self.buckets()
        bucket = keys >> shift
        at, end = starts[bucket].astype(np.intp), starts[bucket + 1]
        found = np.full(len(keys), -1, dtype=np.intp)
        todo = np.flatnonzero(at < end)
        while len(todo):  # one pass per rank within a bucket: ~10 at most, most keys settled in the first
            candidate = at[todo]
            column, key = columns[candidate], keys[todo]
            hit = column == key
            found[todo[hit]] = candidate[hit]
            todo = todo[(column < key) & (candidate + 1 < end[todo])]  # sorted: a larger column ends the search
            at[todo] += 1
        return found

    def buckets(self) -> tuple[np.ndarray, int]:
        """(where each bucket of kept columns starts, and the shift that gives a column's bucket);
        built on first use, ~4 MB for 1M columns, and not pickled."""
        if getattr(self, "_bucket_starts", None) is None:
            bits = max(int(np.ceil(np.log2(max(len(self.columns_), 2)))) - 1, 1)
            self._bucket_shift = 31 - bits
            edges = np.arange((1 << bits) + 1, dtype=np.int64) << self._bucket_shift
            self._bucket_starts = np.searchsorted(self.columns_, edges).astype(np.int32)
        return self._bucket_starts, self._bucket_shift

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: Python 3.11 hands back the instance's own dict
        state.pop("_bucket_starts", None)
        state.pop("_bucket_shift", None)
        return state

    def columns_of(self, ngrams: list[str]) -> np.ndarray:
        """The compact column of each n-gram string (-1: not kept); for explanations."""
        if not ngrams:
            return np.zeros(0, dtype=np.int64)
        hasher = FeatureHasher(n_features=self.vectorizer.n_features, input_type="string", alternate_sign=False)
        return self.lookup(hasher.transform([[g] for g in ngrams]).indices)


class KiwiMorphemes(TransformerMixin, BaseEstimator):
    """Cleaned text -> space-joined `form/tag` morphemes from kiwipiepy.

    Kiwi loads without its typo and multi-word dictionaries: ~330 MB instead of ~530 MB a process,
    and no loss of accuracy for this model (docs/models.md)."""

    def __init__(self, num_workers: int = -1):
        self.num_workers = num_workers  # -1: one thread per core (kiwipiepy >= 0.21)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        """Analyses from `precomputed` (text -> morphemes, set while training: train/morphemes.py)
        where it has them, from Kiwi otherwise."""
        X = list(X)
        known = getattr(self, "precomputed", None)
        if not known:
            return self.analyze(X)
        missing = list(dict.fromkeys(x for x in X if x not in known))
        found = dict(zip(missing, self.analyze(missing)))
        return [known[x] if x in known else found[x] for x in X]

    def analyze(self, texts: list[str]) -> list[str]:
        return list(self.analyses(texts))

    def analyses(self, texts: list[str]):
        """The analyses, lazily: Kiwi starts on its own native threads at once, so the caller can do
        other work (the character blocks) before collecting them."""
        if not texts:
            return iter(())
        return (" ".join(f"{t.form}/{t.tag}" for t in tokens) for tokens in self._analyzer().tokenize(texts))

    def _analyzer(self):
        if getattr(self, "_kiwi", None) is None:
            from kiwipiepy import Kiwi  # heavy import, only where morphemes are needed

            self._kiwi = Kiwi(num_workers=self.num_workers, load_typo_dict=False, load_multi_dict=False)
        return self._kiwi

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_kiwi", None)  # the analyzer is native and rebuilt on first use
        return state


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang & Manning 2012) with a logistic loss: features scaled by NB log-count ratios.

    The ratios are folded into the linear weights after fitting (x*r.w == x.(r*w)), so scoring
    costs one sparse dot product.
    """

    def __init__(self, C: float = 1.0, alpha: float = 1.0, max_iter: int = 1000, copy: bool = True):
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter
        self.copy = copy  # False: scale X in place (a pipeline's own features: saves a copy of them)

    def fit(self, X, y):
        X = sparse.csr_matrix(X, copy=self.copy)
        X.sum_duplicates()
        y = np.asarray(y)
        # Document frequency per class from the column indices alone (no binarized copy of X).
        in_positive_row = np.repeat(y == 1, np.diff(X.indptr))
        positive = self.alpha + np.bincount(X.indices[in_positive_row], minlength=X.shape[1])
        negative = self.alpha + np.bincount(X.indices[~in_positive_row], minlength=X.shape[1])
        del in_positive_row
        ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
        X.data *= ratio[X.indices].astype(X.dtype)
        linear = LogisticRegression(C=self.C, solver="liblinear", max_iter=self.max_iter)
        linear.fit(X, y)
        self.coef_ = (linear.coef_.ravel() * ratio).astype(np.float32)
        self.intercept_ = float(linear.intercept_[0])
        self.classes_ = linear.classes_
        return self

    def decision_function(self, X):
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X):
        positive = expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class FastScorer:
    """P(positive) from a joblib-saved fast pipeline.

    The pipeline defines the model; scoring it through scikit-learn's Pipeline and FeatureUnion
    costs ~3 ms of bookkeeping a call (validation, output wrappers, parallel plumbing) for ~0.5 ms
    of work on one review. So each block's fitted parts are read once and applied with a few
    numpy operations: the same numbers (tests/test_fast_model.py holds them equal), ~6x faster on
    one review. Pipelines of another shape are scored through scikit-learn."""

    def __init__(self, path):
        import joblib

        self.pipeline = joblib.load(path)
        self.positive_column = list(self.pipeline.classes_).index(1)
        self.blocks = _LinearBlocks.of(self.pipeline)

    def __call__(self, texts) -> np.ndarray:
        return self.score(texts)[0]

    def score(self, texts) -> tuple[np.ndarray, np.ndarray | None]:
        """(P(positive), the share of each text's character n-grams the model does not know) per
        text; the share comes free with the scoring (None for pipelines scored by scikit-learn)."""
        if self.blocks is None:
            return np.asarray(self.pipeline.predict_proba(texts))[:, self.positive_column], None
        logits, unknown = self.blocks.logits_and_unknown(list(texts))
        return expit(logits), unknown


@dataclass
class _Block:
    """One FeatureUnion block (ngrams -> tfidf) as numbers: its n-gram counts, IDF and weights."""

    kiwi: KiwiMorphemes | None
    ngrams: CompactNgrams
    analyzer: Callable  # the vectorizer's, for blocks the batched path does not cover
    hasher: FeatureHasher
    batched: NgramHasher | None  # n-grams hashed for the whole batch at once
    sublinear: bool
    idf: np.ndarray
    weights: np.ndarray

    def entries(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, compact column, count) of each kept n-gram, row by row (the order sets the sums' order),
        and each row's n-gram occurrences, kept or not."""
        if self.batched is not None and len(docs) >= BATCHED_FROM:
            rows, hashed_columns = self.batched(docs)
            return *self.ngrams.counted(rows, hashed_columns), np.bincount(rows, minlength=len(docs))
        hashed = self.hasher.transform(self.analyzer(doc) for doc in docs)
        rows = np.repeat(np.arange(len(docs)), np.diff(hashed.indptr))
        return *self.ngrams.entries(hashed), np.bincount(rows, weights=hashed.data, minlength=len(docs))


class _LinearBlocks:
    """NB-SVM's logit over TF-IDF blocks of compact n-grams, computed without scikit-learn's plumbing."""

    def __init__(self, blocks: list[_Block], intercept: float):
        self.blocks, self.intercept = blocks, intercept

    @classmethod
    def of(cls, pipeline) -> "_LinearBlocks | None":
        classifier = pipeline.named_steps.get("classifier")
        if not isinstance(classifier, NBLogisticRegression) or list(classifier.classes_) != [0, 1]:
            return None
        blocks, offset = [], 0
        for _, block in pipeline.named_steps["features"].transformer_list:
            steps = getattr(block, "named_steps", {})
            ngrams, tfidf = steps.get("ngrams"), steps.get("tfidf")
            if not isinstance(ngrams, CompactNgrams) or tfidf is None or tfidf.norm != "l2" or not tfidf.use_idf:
                return None
            width = len(ngrams.columns_)
            ngrams.buckets()  # built at load, not on the first request
            vectorizer = ngrams.vectorizer
            blocks.append(_Block(
                kiwi=steps.get("kiwi"), ngrams=ngrams, analyzer=vectorizer.build_analyzer(),
                hasher=FeatureHasher(n_features=vectorizer.n_features, input_type="string",
                                     alternate_sign=False, dtype=np.float32),
                batched=NgramHasher.of(vectorizer),
                sublinear=tfidf.sublinear_tf, idf=np.asarray(tfidf.idf_, dtype=np.float64),
                weights=np.asarray(classifier.coef_[offset:offset + width], dtype=np.float64)))
            offset += width
        if offset != len(classifier.coef_):
            return None
        # Morpheme blocks last: their analysis starts first, in kiwipiepy's native threads, and is
        # collected after the character blocks (Python) are done.
        return cls(sorted(blocks, key=lambda b: b.kiwi is not None), classifier.intercept_)

    def logits(self, texts: list[str]) -> np.ndarray:
        return self.logits_and_unknown(texts)[0]

    def logits_and_unknown(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The logits, and per text the share of character n-gram occurrences not in the model's
        vocabulary (0 for a text with none): the input-drift signal, from the same lookups."""
        logit = np.full(len(texts), self.intercept, dtype=np.float64)
        known, total = np.zeros(len(texts)), np.zeros(len(texts))
        started = {id(b): b.kiwi.analyses(texts) for b in self.blocks if b.kiwi is not None}
        for b in self.blocks:
            rows, columns, counts, occurrences = b.entries(list(started[id(b)]) if b.kiwi is not None else texts)
            if b.kiwi is None:
                known += np.bincount(rows, weights=counts, minlength=len(texts))
                total += occurrences
            tf = counts.astype(np.float64)
            if b.sublinear:
                tf = np.log(tf) + 1.0
            x = tf * b.idf[columns]  # TF-IDF before the row's l2 normalization
            # (astype: bincount of nothing is an int array, e.g. a review with no known n-gram)
            dot = np.bincount(rows, weights=x * b.weights[columns], minlength=len(texts)).astype(np.float64)
            norm = np.sqrt(np.bincount(rows, weights=x * x, minlength=len(texts)).astype(np.float64))
            logit += np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0)
        unknown = np.divide(total - known, total, out=np.zeros_like(total), where=total > 0)
        return logit, unknown
