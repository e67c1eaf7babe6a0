"""Train, evaluate and save the fast model (NB-SVM over character n-grams; with --morphemes, also
kiwipiepy morpheme n-grams).

Each block is TF-IDF over a pruned vocabulary held as hashes (handlers.fast_model.CompactNgrams),
so the saved model is ~30 MB in memory rather than ~600 MB of Python dicts.

    python -m train.fast [--data-dir DIR] [--out models/fast] [--train-limit N] [--morphemes]
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from core.clock import now
from core.models import FAST, MODELS
from core.settings import NSMC_ROWS, get_settings
from handlers.artifacts import FAST_MODEL_FILE, METRICS_FILE
from handlers.fast_model import CompactNgrams, KiwiMorphemes, NBLogisticRegression, remove_spaces
from handlers.text import clean_text
from train import morphemes
from train.data import NSMC_FILES, Split, load_split
from train.progress import StepBars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastParams:
    """Defaults chosen on a dev split of train (`python -m train.tune_fast`, docs/models.md)."""

    char_ngrams: tuple[int, int] = (1, 5)
    morpheme_ngrams: tuple[int, int] = (1, 2)
    word_ngrams: tuple[int, int] | None = None
    nospace_char_ngrams: tuple[int, int] | None = (2, 5)  # spacing in reviews is unreliable
    min_df: int = 2
    C: float = 4.0
    # Morphemes: +0.08 dev points alone and +0.13 in the accurate blend, for ~8x the fast model's CPU a
    # review (kiwipiepy's analysis) and ~330 MB a process; off by default (docs/models.md "Fast").
    use_morphemes: bool = False


def params_of(metrics: dict) -> FastParams:
    """The recipe a saved fast model was trained with, from its metrics.json ("params")."""
    known = {f.name for f in fields(FastParams)}
    return FastParams(**{name: tuple(value) if isinstance(value, list) else value
                         for name, value in metrics.get("params", {}).items() if name in known})


HASH_COLUMNS = 2 ** 31 - 1  # scikit-learn's largest: n-grams almost never share a column


def _tfidf(params: FastParams, *first, **vectorizer) -> Pipeline:
    """TfidfVectorizer(min_df, sublinear_tf) with its vocabulary held as hashes."""
    hashing = HashingVectorizer(n_features=HASH_COLUMNS, alternate_sign=False, norm=None, dtype=np.float32,
                                **vectorizer)
    return Pipeline([*first, ("ngrams", CompactNgrams(hashing, params.min_df)),
                     ("tfidf", TfidfTransformer(sublinear_tf=True))])


def build_pipeline(params: FastParams = FastParams()) -> Pipeline:
    features = [("chars", _tfidf(params, analyzer="char", ngram_range=params.char_ngrams))]
    if params.use_morphemes:
        features.append(("morphemes", _tfidf(params, ("kiwi", KiwiMorphemes()), token_pattern=r"\S+",
                                             lowercase=False, ngram_range=params.morpheme_ngrams)))
    if params.word_ngrams:
        features.append(("words", _tfidf(params, token_pattern=r"\S+", ngram_range=params.word_ngrams)))
    if params.nospace_char_ngrams:
        features.append(("nospace_chars", _tfidf(params, analyzer="char", ngram_range=params.nospace_char_ngrams,
                                                 preprocessor=remove_spaces)))
    return Pipeline([("features", FeatureUnion(features)), ("classifier", NBLogisticRegression(C=params.C, copy=False))])


def fit(train: Split, params: FastParams = FastParams(), n_jobs: int | None = None,
        evaluate_on: Split | None = None, cache_dir: Path | None = None,
        progress=lambda step: None) -> tuple[Pipeline, float | None]:
    """Fit on cleaned texts, and the accuracy on `evaluate_on`. Morphemes of both come from the
    cache (train/morphemes.py). The feature blocks are built one after another in this process by
    default: in parallel (n_jobs=2) each helper process holds its own copy of the texts and its
    block's intermediate arrays, ~0.8 GB more at the peak of a /train job for ~15 s less."""
    pipeline = build_pipeline(params).set_params(features__n_jobs=n_jobs)
    texts = [clean_text(t) for t in train.texts]
    held_out = [clean_text(t) for t in evaluate_on.texts] if evaluate_on is not None else []
    with morphemes.precomputed(pipeline, texts + held_out, cache_dir or get_settings().nsmc_cache_dir):
        pipeline.fit(texts, train.labels)
        pipeline.set_params(features__n_jobs=None)
        progress("evaluate")
        score = float(np.mean(pipeline.predict(held_out) == evaluate_on.labels)) if held_out else None
    return pipeline, score


def predict(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """Labels (0/1) for raw texts, cleaned as in training."""
    return pipeline.predict([clean_text(t) for t in texts]) if texts else np.array([], dtype=np.int64)


def save(pipeline: Pipeline, metrics: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out_dir / FAST_MODEL_FILE, compress=3)
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return out_dir


def train_and_evaluate(data_dir=None, train_limit=None, test_limit=None,
                       params: FastParams = FastParams(), progress=lambda step: None,
                       also_train_on: Split | None = None) -> tuple[Pipeline, dict]:
    """The whole recipe; `progress(step)` is told each step's name (the gateway's /train reports it).
    `also_train_on` is added to NSMC's train split (a /train job's feedback, train/feedback.py)."""
    progress("load data")
    train = load_split("train", data_dir).subset(train_limit)
    test = load_split("test", data_dir).subset(test_limit)
    if also_train_on is not None and len(also_train_on):
        train = Split(train.texts + also_train_on.texts, np.concatenate([train.labels, also_train_on.labels]))
    progress("train")
    started = time.perf_counter()
    pipeline, test_accuracy = fit(train, params, evaluate_on=test, progress=progress)
    train_seconds = time.perf_counter() - started  # with the evaluation
    metrics = {
        "model": "nb-svm (char + kiwi morpheme n-grams)" if params.use_morphemes else "nb-svm (char n-grams)",
        "test_accuracy": round(test_accuracy, 5),
        "test_rows": len(test),
        "train_rows": len(train),
        "train_seconds": round(train_seconds, 1),
        "params": asdict(params),
        "data_blob_ids": {split: blob for split, (_, blob) in NSMC_FILES.items()},
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__},
        "created": now(),
    }
    log.info("test accuracy %.4f on %d rows; trained on %d rows in %.0fs",
             test_accuracy, len(test), len(train), train_seconds)
    return pipeline, metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="directory with NSMC files (default: $NSMC_DIR, else download)")
    parser.add_argument("--out", type=Path, default=get_settings().models_dir / MODELS[FAST].source_dir)
    parser.add_argument("--train-limit", type=int, help="train on a stratified subset of this many rows")
    parser.add_argument("--test-limit", type=int, help="evaluate on a stratified subset of this many rows")
    parser.add_argument("--if-missing", action="store_true", help="do nothing when --out already holds a model")
    parser.add_argument("--morphemes", action="store_true",
                        help="add kiwipiepy morpheme n-grams: ~0.1 point more accurate, ~8x the CPU a review")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.if_missing and (args.out / FAST_MODEL_FILE).is_file():
        print(f"{args.out / FAST_MODEL_FILE} exists; not retraining (make train-fast retrains)")
        return 0
    scale = min(1.0, (args.train_limit or NSMC_ROWS["train"]) / NSMC_ROWS["train"])
    bars = StepBars({"load data": 2, "train": (200 if args.morphemes else 100) * scale,
                     "evaluate": 40 * min(1.0, (args.test_limit or NSMC_ROWS["test"]) / NSMC_ROWS["test"])})
    try:
        pipeline, metrics = train_and_evaluate(args.data_dir, args.train_limit, args.test_limit,
                                               FastParams(use_morphemes=args.morphemes), progress=bars)
    finally:
        bars.close()
    metrics["command"] = " ".join(["python -m train.fast", *(argv if argv is not None else sys.argv[1:])])
    print(json.dumps({"out": str(save(pipeline, metrics, args.out)), "test_accuracy": metrics["test_accuracy"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
