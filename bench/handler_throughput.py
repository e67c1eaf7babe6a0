"""In-handler throughput and latency: the handler driven as TorchServe's worker drives it.

    python -m bench.handler_throughput fast [--archive archives/fast.mar] [--reviews 5000]
    python -m bench.handler_throughput accurate [--archive archives/accurate.mar]

The handler is loaded from the served archive with the archive's own model config (the accurate
one runs ONNX Runtime int8 on one thread, as TorchServe's worker does).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from train.inprocess import load_archive, torchserve_context
from core.models import ACCURATE, FAST
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.fast_handler import FastHandler
from train.data import load_split

HANDLERS = {FAST: FastHandler, ACCURATE: AccurateHandler}


def measure(handler, texts, batch_size: int, texts_per_request: int) -> dict:
    """Send `texts` as requests of `texts_per_request`, `batch_size` requests per handle() call."""
    requests = [{"body": {"text": texts[i:i + texts_per_request]}}
                for i in range(0, len(texts), texts_per_request)]
    latencies = []
    started = time.perf_counter()
    for i in range(0, len(requests), batch_size):
        batch = requests[i:i + batch_size]
        t0 = time.perf_counter()
        handler.handle(batch, torchserve_context(".", batch_size=len(batch)))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"batch_requests": batch_size, "texts_per_request": texts_per_request,
            "reviews_per_s": round(len(texts) / elapsed, 1),
            "call_ms_p50": round(float(np.percentile(ms, 50)), 2),
            "call_ms_p99": round(float(np.percentile(ms, 99)), 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=sorted(HANDLERS))
    parser.add_argument("--archive", type=Path, help="a .mar (default: the model store's <model>.mar)")
    parser.add_argument("--reviews", type=int, default=5000, help="NSMC test reviews to score")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    archive = args.archive or ModelStore(get_settings().model_store).archive_path(args.model)
    with tempfile.TemporaryDirectory() as unpacked:
        handler = load_archive(HANDLERS[args.model](), archive, Path(unpacked))
    texts = [t or "." for t in load_split("test", args.data_dir).texts[:args.reviews]]
    measure(handler, texts[:200], 1, 1)  # warm-up
    rows = [measure(handler, texts[:max(200, args.reviews // 10)], 1, 1),
            measure(handler, texts, 16, 1),
            measure(handler, texts, 1, 32),
            measure(handler, texts, 8, 32)]  # eight clients' 32-review requests batched together
    info = {"model": args.model, "archive": str(archive), "cpu_cores": psutil.cpu_count(),
            "torch_threads": torch.get_num_threads(), "rss_mb": round(psutil.Process().memory_info().rss / 1e6)}
    print(json.dumps({**info, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
