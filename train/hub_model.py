"""Save a Hugging Face hub classifier locally, to archive it as the accurate model (needs the network).

    python -m train.hub_model sackoh/bert-base-multilingual-cased-nsmc /tmp/hub_model
    python -m train.archive accurate --model-dir /tmp/hub_model --force
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def fetch_hub_model(model_id: str, dest: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    AutoTokenizer.from_pretrained(model_id).save_pretrained(dest)
    AutoModelForSequenceClassification.from_pretrained(model_id).save_pretrained(dest)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_id")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        print(fetch_hub_model(args.model_id, args.dest))
    except OSError as exc:
        print(f"error: {args.model_id} is not a reachable hub model ({exc}); online, unset HF_HUB_OFFLINE",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
