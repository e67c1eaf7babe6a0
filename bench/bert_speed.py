"""BERT on CPU: eager fp32 against dynamic int8 — latency, throughput and full-test accuracy.

    python -m bench.bert_speed [--model-dir models/nsmc_bert] [--latency-reviews 300] [--skip-accuracy]

Both variants run inside the real handler (BertSentimentHandler.bert_positive, BERT alone,
without the blend), so the figures are what TorchServe's worker sees.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import psutil
import torch

from handlers.bert_handler import BertSentimentHandler
from handlers.text import clean_text
from tests.helpers import torchserve_context
from train import settings
from train.data import load_split


def load(model_dir: str, quantize: str | None) -> BertSentimentHandler:
    handler = BertSentimentHandler()
    context = torchserve_context(model_dir)
    context.model_yaml_config = {"handler": {"quantize": quantize}} if quantize else {}
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
    parser.add_argument("--model-dir", default=str(settings.MODELS_DIR / settings.ACCURATE_MODEL_NAME))
    parser.add_argument("--latency-reviews", type=int, default=300)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    test = load_split("test", args.data_dir)
    texts = [clean_text(t) for t in test.texts]
    report = {"cpu_cores": psutil.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
              "test_rows": len(texts), "variants": {}}
    for name, quantize in (("eager_fp32", None), ("dynamic_int8", "int8")):
        report["variants"][name] = measure(load(args.model_dir, quantize), texts, test.labels,
                                           args.latency_reviews, args.skip_accuracy)
        print(name, json.dumps(report["variants"][name]), flush=True)
    fp32, int8 = report["variants"]["eager_fp32"], report["variants"]["dynamic_int8"]
    report["int8_speedup"] = {"single_p50": round(fp32["single_ms_p50"] / int8["single_ms_p50"], 2),
                              "batch": round(int8["batch_reviews_per_s"] / fp32["batch_reviews_per_s"], 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
