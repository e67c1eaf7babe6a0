"""Train, evaluate and save the fast model (NB-SVM over character and morpheme n-grams).

    python -m train.fast [--data-dir DIR] [--out models/fast] [--train-limit N]
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from core.models import FAST, MODELS
from core.settings import get_settings
from handlers.artifacts import FAST_MODEL_FILE, METRICS_FILE
from handlers.fast_model import KiwiMorphemes, NBLogisticRegression, remove_spaces
from handlers.text import clean_text
from train.data import NSMC_FILES, Split, load_split
from train.progress import StepBars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastParams:
    """Defaults chosen on a dev split of train (see README: `make tune-fast`)."""

    char_ngrams: tuple[int, int] = (1, 5)
    morpheme_ngrams: tuple[int, int] = (1, 2)
    word_ngrams: tuple[int, int] | None = None
    nospace_char_ngrams: tuple[int, int] | None = (2, 5)  # spacing in reviews is unreliable
    min_df: int = 2
    C: float = 4.0
    use_morphemes: bool = True


def _tfidf(params: FastParams, **kwargs) -> TfidfVectorizer:
    return TfidfVectorizer(min_df=params.min_df, sublinear_tf=True, dtype=np.float32, **kwargs)


def build_pipeline(params: FastParams = FastParams()) -> Pipeline:
    features = [("chars", _tfidf(params, analyzer="char", ngram_range=params.char_ngrams))]
    if params.use_morphemes:
        features.append(("morphemes", Pipeline([
            ("kiwi", KiwiMorphemes()),
            ("tfidf", _tfidf(params, token_pattern=r"\S+", lowercase=False, ngram_range=params.morpheme_ngrams)),
        ])))
    if params.word_ngrams:
        features.append(("words", _tfidf(params, token_pattern=r"\S+", ngram_range=params.word_ngrams)))
    if params.nospace_char_ngrams:
        features.append(("nospace_chars", _tfidf(params, analyzer="char", ngram_range=params.nospace_char_ngrams,
                                                 preprocessor=remove_spaces)))
    return Pipeline([("features", FeatureUnion(features)), ("classifier", NBLogisticRegression(C=params.C))])


def fit(train: Split, params: FastParams = FastParams(), n_jobs: int = 2) -> Pipeline:
    """Fit on cleaned texts; feature blocks fit in parallel, but the saved model scores serially."""
    pipeline = build_pipeline(params).set_params(features__n_jobs=n_jobs)
    pipeline.fit([clean_text(t) for t in train.texts], train.labels)
    return pipeline.set_params(features__n_jobs=None)


def accuracy(pipeline: Pipeline, data: Split) -> float:
    predicted = pipeline.predict([clean_text(t) for t in data.texts])
    return float(np.mean(predicted == data.labels))


def save(pipeline: Pipeline, metrics: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out_dir / FAST_MODEL_FILE, compress=3)
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return out_dir


def train_and_evaluate(data_dir=None, train_limit=None, test_limit=None,
                       params: FastParams = FastParams(), progress=lambda step: None) -> tuple[Pipeline, dict]:
    """The whole recipe; `progress(step)` is told each step's name (the gateway's /train reports it)."""
    progress("load data")
    train = load_split("train", data_dir).subset(train_limit)
    test = load_split("test", data_dir).subset(test_limit)
    progress("train")
    started = time.perf_counter()
    pipeline = fit(train, params)
    train_seconds = time.perf_counter() - started
    progress("evaluate")
    test_accuracy = accuracy(pipeline, test)
    metrics = {
        "model": "nb-svm (char + kiwi morpheme n-grams)",
        "test_accuracy": round(test_accuracy, 5),
        "test_rows": len(test),
        "train_rows": len(train),
        "train_seconds": round(train_seconds, 1),
        "params": asdict(params),
        "data_blob_ids": {split: blob for split, (_, blob) in NSMC_FILES.items()},
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.if_missing and (args.out / FAST_MODEL_FILE).is_file():
        print(f"{args.out / FAST_MODEL_FILE} exists; not retraining (make train-fast retrains)")
        return 0
    scale = min(1.0, (args.train_limit or 150_000) / 150_000)
    bars = StepBars({"load data": 2, "train": 200 * scale, "evaluate": 40 * min(1.0, (args.test_limit or 50_000) / 50_000)})
    try:
        pipeline, metrics = train_and_evaluate(args.data_dir, args.train_limit, args.test_limit, progress=bars)
    finally:
        bars.close()
    metrics["command"] = " ".join(["python -m train.fast", *(argv if argv is not None else sys.argv[1:])])
    print(json.dumps({"out": str(save(pipeline, metrics, args.out)), "test_accuracy": metrics["test_accuracy"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
