"""Write the shipped model directory, check it reloads offline, and write metrics/eval files."""
from __future__ import annotations

import copy
import json
import logging
import platform
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerFast

from train.bert.batching import Encoded
from train.bert.predict import positive_probs
from handlers.artifacts import LABELS, METRICS_FILE

log = logging.getLogger(__name__)

PROBE_TEXTS = ["이 영화 진짜 재밌다 ㅋㅋㅋ 강추!!", "시간 아깝다... 최악의 영화", "그냥 그랬음"]


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def save_model_dir(model, tokenizer: PreTrainedTokenizerFast, out_dir: Path, weights_dtype: str) -> None:
    """save_pretrained model (safetensors, weights in weights_dtype) and tokenizer into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.safetensors"):
        stale.unlink()
    shipped = copy.deepcopy(model).eval()
    if weights_dtype == "fp16":
        shipped = shipped.to(torch.float16)
    shipped.save_pretrained(out_dir)
    if weights_dtype == "fp16":
        # Weights are stored in fp16 to halve the size, but a plain from_pretrained() should give
        # the fp32 model the CPU handler wants: config.json's dtype decides that, so say float32.
        config_path = out_dir / "config.json"
        config = json.loads(config_path.read_text())
        config["dtype"] = "float32"
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tokenizer.save_pretrained(out_dir)
    log.info("saved model (%s weights) and tokenizer to %s: %.1f MB", weights_dtype, out_dir, dir_size(out_dir) / 1e6)


def check_reload(out_dir: Path, tokenizer: PreTrainedTokenizerFast, model, reference: Encoded | None = None, pad_id: int = 0) -> float:
    """Reload with AutoTokenizer / AutoModelForSequenceClassification (fp32, offline) and check
    vocabulary, encoding, labels and predictions against the in-memory objects.

    Returns the largest |p_reloaded - p_memory| over `reference` (fp16 rounding only)."""
    tok = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    if len(tok) != len(tokenizer):
        raise RuntimeError(f"AutoTokenizer({out_dir}) has {len(tok)} tokens, expected {len(tokenizer)}")
    for text in PROBE_TEXTS:
        if tok(text)["input_ids"] != tokenizer(text)["input_ids"]:
            raise RuntimeError(f"AutoTokenizer({out_dir}) encodes {text!r} differently")
    reloaded = AutoModelForSequenceClassification.from_pretrained(out_dir, dtype=torch.float32, local_files_only=True)
    default = AutoModelForSequenceClassification.from_pretrained(out_dir, local_files_only=True)
    if reloaded.dtype != torch.float32 or default.dtype != torch.float32:
        raise RuntimeError(f"reloaded model is {reloaded.dtype}/{default.dtype} (dtype=float32/default), expected float32")
    if [reloaded.config.id2label[i] for i in range(len(LABELS))] != list(LABELS):
        raise RuntimeError(f"reloaded id2label {reloaded.config.id2label} != {LABELS}")
    if reloaded.config.label2id != {name: i for i, name in enumerate(LABELS)}:
        raise RuntimeError(f"reloaded label2id {reloaded.config.label2id}")
    if reference is None or len(reference) == 0:
        return 0.0
    a = positive_probs(model, reference, pad_id)
    b = positive_probs(reloaded, reference, pad_id)
    diff = float(np.abs(a - b).max())
    agree = float(((a >= 0.5) == (b >= 0.5)).mean())
    log.info("reload check: AutoTokenizer %d tokens, AutoModel fp32, max |dp| %.2e, decisions agree %.4f",
             len(tok), diff, agree)
    if diff > 0.02:
        raise RuntimeError(f"reloaded model's probabilities differ by up to {diff}")
    return diff


def save_eval_arrays(eval_dir: Path, dev_probs: np.ndarray, dev_rows: np.ndarray, dev_labels: np.ndarray,
                     test_probs: np.ndarray, test_rows: np.ndarray, test_labels: np.ndarray, note: dict) -> None:
    """{dev,test}_probs.npy plus the row indices/labels that say which review each entry is."""
    eval_dir.mkdir(parents=True, exist_ok=True)
    np.save(eval_dir / "dev_probs.npy", dev_probs.astype(np.float32))
    np.save(eval_dir / "dev_rows.npy", dev_rows.astype(np.int64))
    np.save(eval_dir / "dev_labels.npy", dev_labels.astype(np.int64))
    np.save(eval_dir / "test_probs.npy", test_probs.astype(np.float32))
    np.save(eval_dir / "test_rows.npy", test_rows.astype(np.int64))
    np.save(eval_dir / "test_labels.npy", test_labels.astype(np.int64))
    readme = {
        "what": "P(positive) from the compact BERT (fp32 in-memory best-dev weights) per review.",
        "dev_probs.npy": "dev rows in the order train.data.train_dev_split(load_split('train'), 0.1, seed=42) "
                         "returns them (dev_rows.npy = their 0-based data-row index in ratings_train.txt, "
                         "header excluded; with --train-limit, rows of the Split.subset(limit, seed) taken first).",
        "test_probs.npy": "test rows in ratings_test.txt order (test_rows.npy = 0-based data-row indices; "
                          "0..49999 for the full run).",
        **note,
    }
    (eval_dir / "README.json").write_text(json.dumps(readme, indent=2, ensure_ascii=False) + "\n")
    log.info("saved dev/test probabilities to %s", eval_dir)


def library_versions() -> dict[str, str]:
    import sklearn
    import tokenizers
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def write_metrics(out_dir: Path, metrics: dict) -> None:
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False, default=float) + "\n")
