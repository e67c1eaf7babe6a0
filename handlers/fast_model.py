"""scikit-learn pieces of the fast model.

They live in `handlers/` because the joblib pickle refers to them by module path, and this
package is what ships inside the .mar next to the pickle.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression


def remove_spaces(text: str) -> str:
    """Preprocessor for character n-grams that ignore (unreliable) spacing."""
    return text.replace(" ", "")


class KiwiMorphemes(TransformerMixin, BaseEstimator):
    """Cleaned text -> space-joined `form/tag` morphemes from kiwipiepy."""

    def __init__(self, num_workers: int = -1):
        self.num_workers = num_workers  # -1: one thread per core (kiwipiepy >= 0.21)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        kiwi = self._analyzer()
        return [" ".join(f"{t.form}/{t.tag}" for t in tokens) for tokens in kiwi.tokenize(list(X))]

    def _analyzer(self):
        if getattr(self, "_kiwi", None) is None:
            from kiwipiepy import Kiwi  # heavy import, only where morphemes are needed

            self._kiwi = Kiwi(num_workers=self.num_workers)
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

    def __init__(self, C: float = 1.0, alpha: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y = sparse.csr_matrix(X), np.asarray(y)
        present = X.copy()
        present.data[:] = 1.0
        positive = self.alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
        negative = self.alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
        ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
        linear = LogisticRegression(C=self.C, solver="liblinear", max_iter=self.max_iter)
        linear.fit(X.multiply(ratio).tocsr(), y)
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
    """P(positive) from a joblib-saved fast pipeline (the fast handler and the BERT blend use it)."""

    def __init__(self, path):
        import joblib

        self.pipeline = joblib.load(path)
        self.positive_column = list(self.pipeline.classes_).index(1)

    def __call__(self, texts) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(texts))[:, self.positive_column]


# ---- explanations: each feature's exact share of the logit, on the characters it came from ----

def _char_ngram_spans(text: str, low: int, high: int, positions: list[int] | None = None):
    """(n-gram, [(start, end)]) as scikit-learn's char analyzer makes them; `positions` maps an
    index of `text` back to the cleaned text (for the no-space copy)."""
    where = positions or list(range(len(text)))
    for n in range(low, high + 1):
        for i in range(len(text) - n + 1):
            yield text[i:i + n], (where[i], where[i + n - 1] + 1)


def _morpheme_spans(kiwi_step: "KiwiMorphemes", text: str, low: int, high: int):
    tokens = kiwi_step._analyzer().tokenize(text)
    keys = [f"{t.form}/{t.tag}" for t in tokens]
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            yield " ".join(keys[i:i + n]), (tokens[i].start, tokens[i + n - 1].start + tokens[i + n - 1].len)


def _block_spans(name: str, block, text: str):
    """The n-grams of one FeatureUnion block with where they sit in the cleaned text, and its vectorizer."""
    if name == "morphemes":
        vectorizer = block.named_steps["tfidf"]
        return vectorizer, _morpheme_spans(block.named_steps["kiwi"], text, *vectorizer.ngram_range)
    if name == "nospace_chars":
        kept = [i for i, c in enumerate(text) if c != " "]
        return block, _char_ngram_spans(remove_spaces(text), *block.ngram_range, positions=kept)
    if name == "chars":
        return block, _char_ngram_spans(text, *block.ngram_range)
    return block, ()  # any other block: its contributions are spread over the whole text


def _clip(span: tuple[int, int], length: int) -> tuple[int, int]:
    """At least one character inside the text (kiwi gives zero-width spans to some morphemes, e.g. 이/VCP)."""
    start = min(max(span[0], 0), length - 1)
    return start, min(max(span[1], start + 1), length)


def linear_contributions(pipeline, text: str) -> tuple[np.ndarray, float, float]:
    """(per-character contribution to the logit, bias, logit) for one cleaned text.

    The logit is sum_j x_j * w_j + b over the features j present. Each feature's x_j * w_j is split
    evenly over its occurrences and, within one, over its characters, so the characters' weights
    plus the bias add up to the logit exactly."""
    union, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    weights = np.zeros(len(text), dtype=np.float64)
    if not text:
        return weights, classifier.intercept_, classifier.intercept_
    offset = 0
    for name, block in union.transformer_list:
        row = sparse.csr_matrix(block.transform([text]))
        vectorizer, spans = _block_spans(name, block, text)
        occurrences: dict[int, list[tuple[int, int]]] = {}
        for gram, span in spans:
            j = vectorizer.vocabulary_.get(gram)
            if j is not None:
                occurrences.setdefault(j, []).append(span)
        for j, x in zip(row.indices, row.data):
            share = float(x) * float(classifier.coef_[offset + j])
            found = [_clip(span, len(text)) for span in occurrences.get(j, [])] or [(0, len(text))]
            for start, end in found:
                weights[start:end] += share / len(found) / (end - start)
        offset += row.shape[1]
    # The model's logit in float64 (serving computes it in float32: within ~1e-3 of this).
    features = sparse.csr_matrix(union.transform([text]), dtype=np.float64)
    logit = float((features @ classifier.coef_.astype(np.float64))[0]) + classifier.intercept_
    return weights, classifier.intercept_, logit
