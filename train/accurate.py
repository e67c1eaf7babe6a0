"""Retraining the accurate model from feedback: continue fine-tuning the serving BERT from its own
checkpoint (the serving archive), on CPU, on the training feedback plus a replay sample of NSMC
train, within a time budget; export and score it as it will be served (ONNX int8 in the accurate
handler), choose the blend weight again on dev, and score the serving version the same way, so the
gate compares like with like.

Dev is `train_dev_split`'s (never trained on here); the replay sample is drawn from the rest of
train. The checkpoint is chosen on dev rows plus a slice of the training feedback (so neither NSMC
nor the feedback is given up for the other); the blend weight on dev. Test (NSMC's, or its
`test_limit` subset) is used only for the final scores.
"""
from __future__ import annotations

from train.bert import runtime  # first: sets OMP_WAIT_POLICY before torch is imported

import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, BertForSequenceClassification  # noqa: E402

from core.clock import now  # noqa: E402
from handlers.accurate_handler import AccurateHandler  # noqa: E402
from handlers.artifacts import BLEND_FILE, METRICS_FILE, ONNX_FILE  # noqa: E402
from handlers.fast_handler import FastHandler  # noqa: E402
from handlers.text import clean_text  # noqa: E402
from train import fast  # noqa: E402
from train.archive import archived_metrics  # noqa: E402
from train.bert import export  # noqa: E402
from train.bert.batching import encode  # noqa: E402
from train.bert.finetune import FineTuneRecipe, finetune  # noqa: E402
from train.blend import WEIGHTS, bert_served_probs, fast_dev_probs  # noqa: E402
from train.data import NSMC_FILES, Split, load_split, train_dev_split  # noqa: E402
from train.inprocess import load_archive  # noqa: E402

log = logging.getLogger(__name__)
REPLAY_MIN = 2000  # NSMC rows replayed at least, so a small feedback batch does not pull the model off NSMC
SELECTION_DEV_ROWS = 2000  # dev rows fine-tuning evaluates its checkpoints on (eager BERT: each costs seconds)
SELECTION_FEEDBACK_SHARE = 0.1  # of the training feedback, kept out of training to choose the checkpoint with
EPOCHS = 3.0  # over feedback + replay; the time budget cuts it short on large feedback
LEARNING_RATE = 1e-4  # half the first fine-tuning's peak: this continues from a trained model
SEED = 42


@dataclass(frozen=True)
class Retrained:
    model_dir: Path
    metrics: dict  # the candidate's metrics.json: served test accuracy and how it was made
    serving_accuracy: float  # the serving version on the same test rows, scored the same way
    holdout: tuple[np.ndarray, np.ndarray] | None  # (serving, candidate) right or wrong per held-out feedback text


def model_files(mar: Path, into: Path) -> Path:
    """The model directory an accurate archive was built from: its top-level files less what the
    archive adds (the handler, the model config, the ONNX export)."""
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(mar) as archive:
        for name in archive.namelist():
            if "/" not in name and name != ONNX_FILE and not name.endswith((".py", ".yaml")):
                (into / name).write_bytes(archive.read(name))
    return into


def accuracy(positive: np.ndarray, labels: np.ndarray) -> float:
    return round(float(np.mean((positive >= 0.5) == labels)), 5)


def retrain(serving_mar: Path, fast_mar: Path, train_rows: Split, holdout: Split | None, data_dir, out_dir: Path,
            train_limit: int | None, test_limit: int | None, budget_minutes: float, cache_dir: Path,
            progress=lambda step: None) -> Retrained:
    """`train_rows`: the training feedback; `holdout`: the held-out feedback (or None); `cache_dir`
    keeps the fast recipe's dev scores between jobs (train/blend.py)."""
    progress("load data")
    started = time.perf_counter()
    model_dir = model_files(serving_mar, out_dir)
    rest, dev = train_dev_split(load_split("train", data_dir))
    replay = rest.subset(min(max(REPLAY_MIN, len(train_rows)), train_limit or len(rest)), seed=SEED)
    test = load_split("test", data_dir).subset(test_limit)
    chosen_on = max(1, int(len(train_rows) * SELECTION_FEEDBACK_SHARE)) if len(train_rows) > 1 else 0
    texts = [clean_text(t) for t in train_rows.texts[chosen_on:] + replay.texts]
    labels = np.concatenate([train_rows.labels[chosen_on:], replay.labels])
    dev_rows = dev.subset(SELECTION_DEV_ROWS, seed=SEED)
    selection = Split(dev_rows.texts + train_rows.texts[:chosen_on],
                      np.concatenate([dev_rows.labels, train_rows.labels[:chosen_on]]))

    progress("train")
    runtime.setup_logging()
    model = BertForSequenceClassification.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    max_length = archived_metrics(serving_mar).get("model_config", {}).get("max_length", 128)
    recipe = FineTuneRecipe(epochs=EPOCHS, lr=LEARNING_RATE, max_minutes=budget_minutes, evals_per_epoch=2)
    summary = finetune(model, encode(tokenizer, texts, max_length, labels),
                       encode(tokenizer, [clean_text(t) for t in selection.texts], max_length, selection.labels),
                       tokenizer.pad_token_id, recipe, runtime.choose_precision("auto", torch.device("cpu")),
                       runtime.ThreadTuner("auto"), SEED)
    export.save_model_dir(model, tokenizer, model_dir, "fp16")
    train_seconds = time.perf_counter() - started

    progress("evaluate")
    scored = {"dev": dev.texts, "test": test.texts, **({"holdout": holdout.texts} if holdout is not None else {})}
    with tempfile.TemporaryDirectory(prefix="retrain_accurate_") as tmp:
        candidate = bert_served_probs(model_dir, {k: [clean_text(t) for t in v] for k, v in scored.items()}, Path(tmp))
        fast_handler = load_archive(FastHandler(), fast_mar, Path(tmp) / "fast")
        fast_of = {k: fast_handler.predict_positive([clean_text(t) for t in v]) for k, v in scored.items() if k != "dev"}
        recipe = fast.params_of(archived_metrics(fast_mar))
        fast_dev = fast_dev_probs(data_dir, Path(cache_dir) / "fast_dev_probs.npy", recipe)
        weights = {float(w): accuracy(w * candidate["dev"] + (1 - w) * fast_dev, dev.labels) for w in WEIGHTS}
        weight = max(weights, key=weights.get)
        served = {k: weight * candidate[k] + (1 - weight) * fast_of[k] for k in fast_of}
        serving = load_archive(AccurateHandler(), serving_mar, Path(tmp) / "serving")
        serving_served = {k: serving.predict_positive([clean_text(t) for t in scored[k]], fast_of[k]) for k in fast_of}
    (model_dir / BLEND_FILE).write_text(json.dumps({
        "bert_weight": weight, "chosen_on": "dev split of train (train_dev_split, seed 42), after feedback retraining",
        "bert_runtime": "ONNX Runtime int8, as served", "dev_accuracy": {"blend": weights[weight]},
        "test_accuracy": {"bert": accuracy(candidate["test"], test.labels), "blend": accuracy(served["test"], test.labels)},
        "test_rows": len(test)}, indent=2) + "\n")
    metrics = {
        **{k: v for k, v in archived_metrics(serving_mar).items() if k in ("model_config", "param_count", "tokenizer")},
        "model": "compact BERT, fine-tuning continued on feedback (blended with the fast model as served)",
        "test_accuracy": accuracy(served["test"], test.labels),
        "bert_test_accuracy": accuracy(candidate["test"], test.labels),
        "test_rows": len(test),
        "train_rows": len(texts), "feedback_train_rows": len(train_rows) - chosen_on, "replay_rows": len(replay),
        "selection_rows": len(selection),
        "bert_weight": weight, "finetune": {"recipe": {"epochs": EPOCHS, "lr": LEARNING_RATE, "max_minutes": budget_minutes,
                                                       "from": serving_mar.name}, **summary},
        "train_seconds": round(train_seconds, 1),
        "data_blob_ids": {split: blob for split, (_, blob) in NSMC_FILES.items()},
        "created": now(),
    }
    (model_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False, default=str) + "\n")
    log.info("accurate candidate: served test accuracy %.4f (serving %.4f), BERT weight %.3f, %d feedback rows",
             metrics["test_accuracy"], accuracy(serving_served["test"], test.labels), weight, len(train_rows))
    right = None
    if holdout is not None:
        right = ((serving_served["holdout"] >= 0.5) == holdout.labels, (served["holdout"] >= 0.5) == holdout.labels)
    return Retrained(model_dir, metrics, accuracy(serving_served["test"], test.labels), right)
