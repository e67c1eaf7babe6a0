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
