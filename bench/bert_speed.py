"""BERT on CPU: eager fp32 against PyTorch dynamic int8 and ONNX Runtime int8 — latency,
throughput and full-test accuracy.

    python -m bench.bert_speed [--model-dir models/nsmc_bert] [--latency-reviews 300] [--skip-accuracy]

Every variant runs inside the real handler (AccurateHandler.bert_positive, BERT alone,
without the blend), configured the way the archive's model config would, so the figures are what
TorchServe's worker sees.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import psutil
import torch

from core.models import ACCURATE, MODELS
from core.settings import get_settings
from handlers.accurate_handler import AccurateHandler
from handlers.artifacts import ONNX_FILE
from handlers.text import clean_text
from train.data import load_split
from train.export_onnx import export_onnx
from train.inprocess import torchserve_context


VARIANTS = {"eager_fp32": {}, "torch_dynamic_int8": {"quantize": "int8"}, "onnxruntime_int8": {"runtime": "onnx"}}


def load(model_dir: Path, handler_config: dict) -> AccurateHandler:
    handler = AccurateHandler()
    context = torchserve_context(model_dir)
    context.model_yaml_config = {"handler": handler_config}
    handler.initialize(context)
    return handler


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def measure(handler, texts, labels, latency_reviews: int, skip_accuracy: bool) -> dict:
    score = handler.bert_positive
    score(texts[:64])  # warm-up
    single = np.array([timed(score, [t]) for t in texts[:latency_reviews]]) * 1000
    batch = texts[:4096]
    throughput = len(batch) / timed(score, batch)
    result = {"single_ms_p50": round(float(np.percentile(single, 50)), 2),
              "single_ms_p99": round(float(np.percentile(single, 99)), 2),
              "batch_reviews_per_s": round(throughput, 1)}
    if not skip_accuracy:
        started = time.perf_counter()
        result["test_accuracy"] = round(float(np.mean((score(texts) >= 0.5) == labels)), 5)
        result["full_test_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(get_settings().models_dir / MODELS[ACCURATE].source_dir))
    parser.add_argument("--latency-reviews", type=int, default=300)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    test = load_split("test", args.data_dir)
    texts = [clean_text(t) for t in test.texts]
    report = {"cpu_cores": psutil.cpu_count(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
              "torch_threads": torch.get_num_threads(),
              "test_rows": len(texts), "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:  # the model plus its ONNX export, as in the archive
        model_dir = Path(shutil.copytree(args.model_dir, Path(tmp) / "model"))
        export_onnx(model_dir, model_dir / ONNX_FILE)
        for name, handler_config in VARIANTS.items():
            report["variants"][name] = measure(load(model_dir, handler_config), texts, test.labels,
                                               args.latency_reviews, args.skip_accuracy)
            print(name, json.dumps(report["variants"][name]), flush=True)
    eager = report["variants"]["eager_fp32"]
    report["speedup_over_eager"] = {
        name: {"single_p50": round(eager["single_ms_p50"] / v["single_ms_p50"], 2),
               "batch": round(v["batch_reviews_per_s"] / eager["batch_reviews_per_s"], 2)}
        for name, v in report["variants"].items() if name != "eager_fp32"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
