"""Choose the fast model's settings on a dev split carved from train (test is never read).

    python -m train.tune_fast [--data-dir DIR] [--train-limit N]

Prints dev accuracy per candidate; the winner becomes FastParams' defaults in train/fast.py.
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

from train import fast
from train.data import load_split, train_dev_split

BASE = fast.FastParams(nospace_char_ngrams=None)
CANDIDATES = [
    replace(BASE, use_morphemes=False),
    replace(BASE, C=2.0),
    BASE,
    replace(BASE, C=8.0),
    replace(BASE, word_ngrams=(1, 2)),
    replace(BASE, nospace_char_ngrams=(2, 5), C=2.0),
    replace(BASE, nospace_char_ngrams=(2, 5)),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--train-limit", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train, dev = train_dev_split(load_split("train", args.data_dir).subset(args.train_limit))
    for params in CANDIDATES:
        started = time.perf_counter()
        _, dev_accuracy = fast.fit(train, params, evaluate_on=dev)
        print(f"dev {dev_accuracy:.4f}  {time.perf_counter() - started:5.0f}s  {params}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
