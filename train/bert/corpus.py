"""The NSMC splits used here, cleaned, with the row indices needed to line predictions up later.

Rows are identified by their 0-based position among the data rows of the NSMC file (header
excluded), so dev probabilities can be matched with another model's on exactly the same rows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from handlers.text import clean_text
from train.data import Split, load_split, train_dev_split

log = logging.getLogger(__name__)


@dataclass
class Part:
    """Cleaned texts, labels and the file row index of each."""

    texts: list[str]
    labels: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Corpus:
    train: Part
    dev: Part
    test: Part


def _subset_rows(split: Split, n: int | None, seed: int) -> np.ndarray:
    """The file rows Split.subset(n, seed) keeps, reproduced (same sklearn call)."""
    if n is None or n >= len(split):
        return np.arange(len(split))
    idx, _ = train_test_split(np.arange(len(split)), train_size=n, stratify=split.labels, random_state=seed)
    idx.sort()
    return idx


def _dev_positions(split: Split, dev_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions train_dev_split puts in (train, dev), reproduced (same sklearn call)."""
    return train_test_split(
        np.arange(len(split)), test_size=dev_fraction, stratify=split.labels, random_state=seed
    )


def _part(texts: list[str], labels: np.ndarray, rows: np.ndarray) -> Part:
    return Part([clean_text(t) for t in texts], np.asarray(labels, dtype=np.int64), np.asarray(rows))


def load_corpus(
    data_dir: str | Path | None,
    train_limit: int | None,
    test_limit: int | None,
    seed: int,
    dev_fraction: float = 0.1,
    dev_seed: int = 42,
) -> Corpus:
    """train/dev carved from NSMC train with train.data.train_dev_split; test from NSMC test.

    train_limit/test_limit take class-stratified subsets (Split.subset with `seed`) for quick
    runs; the full recipe uses every row.
    """
    full_train = load_split("train", data_dir)
    full_test = load_split("test", data_dir)

    train_rows = _subset_rows(full_train, train_limit, seed)
    sub = full_train.subset(train_limit, seed)
    train, dev = train_dev_split(sub, dev_fraction=dev_fraction, seed=dev_seed)
    pos_train, pos_dev = _dev_positions(sub, dev_fraction, dev_seed)
    rows_train, rows_dev = train_rows[pos_train], train_rows[pos_dev]
    # The reproduced indices must describe exactly what train_dev_split returned.
    assert [full_train.texts[i] for i in rows_dev] == dev.texts
    assert np.array_equal(full_train.labels[rows_dev], dev.labels)
    assert [full_train.texts[i] for i in rows_train] == train.texts

    test_rows = _subset_rows(full_test, test_limit, seed)
    test = full_test.subset(test_limit, seed)
    assert [full_test.texts[i] for i in test_rows] == test.texts

    corpus = Corpus(
        train=_part(train.texts, train.labels, rows_train),
        dev=_part(dev.texts, dev.labels, rows_dev),
        test=_part(test.texts, test.labels, test_rows),
    )
    log.info(
        "NSMC: %d train / %d dev (from %d train rows) / %d test rows, all cleaned with clean_text",
        len(corpus.train), len(corpus.dev), len(sub), len(corpus.test),
    )
    return corpus
