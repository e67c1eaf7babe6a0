"""Choose the accurate handler's blend of BERT and fast-model probabilities on dev.

    python -m train.blend [--data-dir DIR] [--bert-dir models/nsmc_bert] [--fast-dir models/fast]

1. Fit the fast recipe on train minus dev and score dev (cached); BERT's dev scores come from
   its training run (models/nsmc_bert_eval/dev_probs.npy, same dev split).
2. Pick the weight w maximizing dev accuracy of  w * p_bert + (1 - w) * p_fast.
3. Report test accuracy of BERT, the served fast model, and the blend; write <bert-dir>/blend.json.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import joblib
import numpy as np

from core.models import ACCURATE, FAST, MODELS
from core.settings import get_settings
from handlers.artifacts import BLEND_FILE, FAST_MODEL_FILE
from handlers.text import clean_text
from train import fast
from train.bert.predict import accuracy
from train.data import load_split, train_dev_split

log = logging.getLogger(__name__)
WEIGHTS = np.round(np.linspace(0, 1, 41), 3)


def positive_probs(pipeline, texts) -> np.ndarray:
    return pipeline.predict_proba([clean_text(t) for t in texts])[:, list(pipeline.classes_).index(1)]


def fast_dev_probs(data_dir, cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    train, dev = train_dev_split(load_split("train", data_dir))
    probs = positive_probs(fast.fit(train), dev.texts)
    np.save(cache, probs)
    return probs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    models_dir = get_settings().models_dir
    parser.add_argument("--bert-dir", type=Path, default=models_dir / MODELS[ACCURATE].source_dir)
    parser.add_argument("--bert-eval-dir", type=Path, default=models_dir / f"{MODELS[ACCURATE].source_dir}_eval")
    parser.add_argument("--fast-dir", type=Path, default=models_dir / MODELS[FAST].source_dir)
    parser.add_argument("--fast-dev-only", action="store_true", help="only compute the fast model's dev scores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    args.bert_eval_dir.mkdir(parents=True, exist_ok=True)
    fast_dev = fast_dev_probs(args.data_dir, args.bert_eval_dir / "fast_dev_probs.npy")
    if args.fast_dev_only:
        return 0
    _, dev = train_dev_split(load_split("train", args.data_dir))
    bert_dev = np.load(args.bert_eval_dir / "dev_probs.npy")
    dev_scores = {float(w): accuracy(w * bert_dev + (1 - w) * fast_dev, dev.labels) for w in WEIGHTS}
    weight = max(dev_scores, key=dev_scores.get)

    test = load_split("test", args.data_dir)
    bert_test = np.load(args.bert_eval_dir / "test_probs.npy")
    fast_test = positive_probs(joblib.load(args.fast_dir / FAST_MODEL_FILE), test.texts)
    report = {
        "bert_weight": weight,
        "chosen_on": "dev split of train (train_dev_split, seed 42)",
        "dev_accuracy": {"bert": accuracy(bert_dev, dev.labels), "fast": accuracy(fast_dev, dev.labels),
                         "blend": dev_scores[weight]},
        "test_accuracy": {"bert": accuracy(bert_test, test.labels), "fast": accuracy(fast_test, test.labels),
                          "blend": accuracy(weight * bert_test + (1 - weight) * fast_test, test.labels)},
        "test_rows": len(test),
    }
    (args.bert_dir / BLEND_FILE).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
