"""Full-test accuracy of what the accurate path serves: the handler loaded from the built `.mar`
with the archive's own model config (ONNX int8 BERT blended with the fast model), and of each part.

    python -m bench.served_accuracy [--archive archives/accurate.mar] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.archives import load_archive
from core.models import ACCURATE
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.text import clean_text
from train.data import load_split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path,
                        default=ModelStore(get_settings().model_store).archive_path(ACCURATE))
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        parser.error(f"{args.archive} does not exist: `make archive` builds it")
    test = load_split("test", args.data_dir)
    texts, labels = [clean_text(t) for t in test.texts], np.asarray(test.labels)
    with tempfile.TemporaryDirectory() as tmp:
        handler = load_archive(AccurateHandler(), args.archive, Path(tmp))
        started = time.perf_counter()
        served = handler.predict_positive(texts)  # the code path inference() runs
        seconds = time.perf_counter() - started
        bert = handler.bert_positive(texts)
        fast = handler.fast_score(texts) if handler.fast_score is not None else None
        accuracy = lambda p: round(float(np.mean((p >= 0.5) == labels)), 5)  # noqa: E731
        report = {"archive": str(args.archive), "runtime": type(handler.logits).__name__, "test_rows": len(texts),
                  "bert_weight": handler.bert_weight, "served_accuracy": accuracy(served),
                  "bert_accuracy": accuracy(bert),
                  "fast_accuracy": accuracy(fast) if fast is not None else None,
                  "served_seconds": round(seconds, 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
