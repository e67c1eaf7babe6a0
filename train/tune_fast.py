"""Choose the fast model's settings on a dev split carved from train (test is never read).

    python -m train.tune_fast [--data-dir DIR] [--train-limit N]

Prints dev accuracy per candidate. FastParams' defaults in train/fast.py are the best character-only
candidate tried; the morpheme candidates are the `--morphemes` recipe (docs/models.md "Why no morphemes by default").
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

from train import fast
from train.data import load_split, train_dev_split

DEFAULT = fast.FastParams()
MORPHEMES = replace(DEFAULT, nospace_char_ngrams=None, use_morphemes=True)
CANDIDATES = [
    DEFAULT,  # character n-grams, with and without spaces (dev 88.24%)
    replace(DEFAULT, char_ngrams=(1, 6), nospace_char_ngrams=(2, 6)),  # 88.23%
    replace(DEFAULT, C=8.0),
    # With kiwipiepy's morphemes (`--morphemes`): ~0.1 point more, ~8x the CPU a review (docs/models.md "Fast")
    replace(MORPHEMES, C=2.0),
    MORPHEMES,
    replace(MORPHEMES, C=8.0),
    replace(MORPHEMES, word_ngrams=(1, 2)),
    replace(MORPHEMES, nospace_char_ngrams=(2, 5), C=2.0),
    replace(MORPHEMES, nospace_char_ngrams=(2, 5)),  # dev 88.32%
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
