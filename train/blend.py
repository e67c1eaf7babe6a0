"""Choose the accurate handler's blend of BERT and fast-model probabilities on dev.

    python -m train.blend [--data-dir DIR] [--bert-dir models/nsmc_bert] [--fast-dir models/fast]

1. Fit the fast recipe on train minus dev and score dev (cached). BERT scores dev and test as it
   is served: the handler on the int8 ONNX export every archive carries (cached beside, keyed by
   the model's weights file).
2. Pick the weight w maximizing dev accuracy of  w * p_bert + (1 - w) * p_fast.
3. Report test accuracy of BERT, the served fast model, and the blend; write <bert-dir>/blend.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import joblib
import numpy as np

from core.models import ACCURATE, FAST, MODELS
from core.settings import get_settings
from handlers.artifacts import BLEND_FILE, FAST_MODEL_FILE, ONNX_FILE
from handlers.text import clean_text
from train import fast
from train.archive import read_metrics
from train.bert.predict import accuracy
from train.data import load_split, train_dev_split

log = logging.getLogger(__name__)
WEIGHTS = np.round(np.linspace(0, 1, 41), 3)


def positive_probs(pipeline, texts) -> np.ndarray:
    return pipeline.predict_proba([clean_text(t) for t in texts])[:, list(pipeline.classes_).index(1)]


def _recipe(params: fast.FastParams) -> str:
    return json.dumps(asdict(params), sort_keys=True)


def fast_dev_cached(cache: Path, params: fast.FastParams = fast.FastParams()) -> bool:
    """Whether `cache` holds this recipe's dev scores (its key file names the recipe)."""
    key = cache.with_suffix(".json")
    return cache.exists() and key.exists() and key.read_text().strip() == _recipe(params)


def fast_dev_probs(data_dir, cache: Path, params: fast.FastParams = fast.FastParams()) -> np.ndarray:
    """The fast recipe's P(positive) on dev, fitted on train minus dev; cached, keyed by the recipe."""
    if fast_dev_cached(cache, params):
        return np.load(cache)
    train, dev = train_dev_split(load_split("train", data_dir))
    pipeline, _ = fast.fit(train, params)
    probs = positive_probs(pipeline, dev.texts)
    np.save(cache, probs)
    cache.with_suffix(".json").write_text(_recipe(params) + "\n")
    return probs


def bert_served_probs(bert_dir: Path, texts: dict[str, list[str]], cache_dir: Path) -> dict[str, np.ndarray]:
    """P(positive) per split from BERT as served (ONNX int8 in the accurate handler, no blend)."""
    weights = next(p for p in sorted(Path(bert_dir).iterdir()) if p.suffix in (".safetensors", ".bin"))
    from handlers import accurate_handler, bert_runtime  # the serving code decides the numbers too

    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (accurate_handler, bert_runtime)))
    key = {"weights": str(weights), "bytes": weights.stat().st_size, "mtime": weights.stat().st_mtime,
           "serving_code_sha256": code.hexdigest()}
    paths = {split: cache_dir / f"bert_{split}_probs_onnx.npy" for split in texts}
    meta = cache_dir / "bert_probs_onnx.json"
    if meta.exists() and json.loads(meta.read_text()) == key and all(p.exists() for p in paths.values()):
        return {split: np.load(path) for split, path in paths.items()}
    import tempfile

    from handlers.accurate_handler import AccurateHandler
    from train.export_onnx import export_onnx
    from train.inprocess import torchserve_context

    with tempfile.TemporaryDirectory() as tmp:
        served = shutil.copytree(bert_dir, Path(tmp) / "model")
        export_onnx(Path(bert_dir), served / ONNX_FILE)
        handler = AccurateHandler()
        handler.initialize(torchserve_context(served, model_yaml_config={"handler": {"runtime": "onnx"}}))
        probs = {split: handler.bert_positive([clean_text(t) for t in split_texts])
                 for split, split_texts in texts.items()}
    for split, values in probs.items():
        np.save(paths[split], values)
    meta.write_text(json.dumps(key) + "\n")
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
    recipe = fast.params_of(read_metrics(args.fast_dir))  # the served model's ({}: the default recipe)
    fast_dev = fast_dev_probs(args.data_dir, args.bert_eval_dir / "fast_dev_probs.npy", recipe)
    if args.fast_dev_only:
        return 0
    _, dev = train_dev_split(load_split("train", args.data_dir))
    test = load_split("test", args.data_dir)
    bert = bert_served_probs(args.bert_dir, {"dev": dev.texts, "test": test.texts}, args.bert_eval_dir)
    bert_dev, bert_test = bert["dev"], bert["test"]
    dev_scores = {float(w): accuracy(w * bert_dev + (1 - w) * fast_dev, dev.labels) for w in WEIGHTS}
    weight = max(dev_scores, key=dev_scores.get)

    fast_test = positive_probs(joblib.load(args.fast_dir / FAST_MODEL_FILE), test.texts)
    report = {
        "bert_weight": weight,
        "chosen_on": "dev split of train (train_dev_split, seed 42)",
        "bert_runtime": "ONNX Runtime int8, as served",
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
