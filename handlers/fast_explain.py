"""Explanations for the fast model: each feature's exact share of the logit, on the characters it
came from. Apart from handlers/fast_model.py because no pickle refers to anything here."""
from __future__ import annotations

import numpy as np
from scipy import sparse

from handlers.fast_model import KiwiMorphemes, remove_spaces


def _char_ngram_spans(text: str, low: int, high: int, positions: list[int] | None = None):
    """(n-gram, [(start, end)]) as scikit-learn's char analyzer makes them; `positions` maps an
    index of `text` back to the cleaned text (for the no-space copy)."""
    where = positions or list(range(len(text)))
    for n in range(low, high + 1):
        for i in range(len(text) - n + 1):
            yield text[i:i + n], (where[i], where[i + n - 1] + 1)


def _morpheme_spans(kiwi_step: KiwiMorphemes, text: str, low: int, high: int):
    tokens = kiwi_step._analyzer().tokenize(text)
    keys = [f"{t.form}/{t.tag}" for t in tokens]
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            yield " ".join(keys[i:i + n]), (tokens[i].start, tokens[i + n - 1].start + tokens[i + n - 1].len)


def _block_spans(block, text: str):
    """The n-grams of one FeatureUnion block (a Pipeline ending in ngrams -> tfidf) with where they
    sit in the cleaned text."""
    vectorizer = block.named_steps["ngrams"].vectorizer
    if "kiwi" in block.named_steps:
        return _morpheme_spans(block.named_steps["kiwi"], text, *vectorizer.ngram_range)
    if vectorizer.analyzer == "char" and vectorizer.preprocessor is remove_spaces:
        kept = [i for i, c in enumerate(text) if c != " "]
        return _char_ngram_spans(remove_spaces(text), *vectorizer.ngram_range, positions=kept)
    if vectorizer.analyzer == "char":
        return _char_ngram_spans(text, *vectorizer.ngram_range)
    return ()  # any other block: its contributions are spread over the whole text


def _clip(span: tuple[int, int], length: int) -> tuple[int, int]:
    """At least one character inside the text (kiwi gives zero-width spans to some morphemes, e.g. 이/VCP)."""
    start = min(max(span[0], 0), length - 1)
    return start, min(max(span[1], start + 1), length)


def linear_contributions(pipeline, text: str) -> tuple[np.ndarray, float, float]:
    """(per-character contribution to the logit, bias, logit) for one cleaned text.

    The logit is sum_j x_j * w_j + b over the features j present. Each feature's x_j * w_j is split
    evenly over its occurrences and, within one, over its characters, so the characters' weights
    plus the bias add up to the logit exactly. Two n-grams that share a hashed column (rare) share
    its contribution."""
    union, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    weights = np.zeros(len(text), dtype=np.float64)
    if not text:
        return weights, classifier.intercept_, classifier.intercept_
    offset = 0
    for _, block in union.transformer_list:
        row = sparse.csr_matrix(block.transform([text]))
        spans = list(_block_spans(block, text))
        columns = block.named_steps["ngrams"].columns_of([gram for gram, _ in spans])
        occurrences: dict[int, list[tuple[int, int]]] = {}
        for j, (_, span) in zip(columns, spans):
            if j >= 0:
                occurrences.setdefault(int(j), []).append(span)
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
