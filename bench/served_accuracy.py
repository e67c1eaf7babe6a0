"""Full-test accuracy of what the accurate path serves: both handlers loaded from the built `.mar`
files with their own model configs, the fast one's P(positive) passed to the accurate one as the
gateway passes it (core/scoring.py), and of each part.

    python -m bench.served_accuracy [--archive archives/accurate.mar] [--fast-archive archives/fast.mar]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from train.inprocess import load_archive
from core.models import ACCURATE, FAST
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.fast_handler import FastHandler
from handlers.text import clean_text
from train.data import load_split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    store = ModelStore(get_settings().model_store)
    parser.add_argument("--archive", type=Path, default=store.archive_path(ACCURATE))
    parser.add_argument("--fast-archive", type=Path, default=store.archive_path(FAST))
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    for archive in (args.archive, args.fast_archive):
        if not archive.is_file():
            parser.error(f"{archive} does not exist: `make archive` builds it")
    test = load_split("test", args.data_dir)
    texts, labels = [clean_text(t) for t in test.texts], np.asarray(test.labels)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        fast = load_archive(FastHandler(), args.fast_archive, Path(tmp) / "fast").predict_positive(texts)
        fast_seconds = time.perf_counter() - started
        handler = load_archive(AccurateHandler(), args.archive, Path(tmp) / "accurate")
        started = time.perf_counter()
        served = handler.predict_positive(texts, fast)  # the code path inference() runs
        seconds = time.perf_counter() - started
        bert = handler.bert_positive(texts)
        accuracy = lambda p: round(float(np.mean((p >= 0.5) == labels)), 5)  # noqa: E731
        report = {"archive": str(args.archive), "fast_archive": str(args.fast_archive),
                  "runtime": type(handler.logits).__name__, "test_rows": len(texts),
                  "bert_weight": handler.bert_weight, "served_accuracy": accuracy(served),
                  "bert_accuracy": accuracy(bert), "fast_accuracy": accuracy(fast),
                  "served_minus_fast_points": round(100 * (accuracy(served) - accuracy(fast)), 2),
                  "fast_seconds": round(fast_seconds, 1), "accurate_seconds": round(seconds, 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
