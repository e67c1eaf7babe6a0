"""The seed's design, as a baseline: one Flask process, both models in memory, Flask's own server.

    python -m bench.seed_style_app [--port 5050] [--fast-mar archives/fast.mar]
                                   [--accurate-mar archives/accurate.mar]

It unpacks the same .mar archives TorchServe serves and scores with the project's handler
classes (same cleaning, blend and int8 settings, read from each archive's model-config YAML), so
the only difference from gateway → TorchServe is the serving design. POST /predict takes and
answers the gateway's JSON, without the gateway's validation (the seed had none).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from flask import Flask, jsonify, request

from train.inprocess import load_archive
from core.models import ACCURATE, FAST
from core.scoring import positive
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.base import SentimentHandler
from handlers.fast_handler import FastHandler


def score(handler: SentimentHandler, texts: list[str], **extra) -> list[dict]:
    """One request through the handler's own preprocess → inference → postprocess."""
    return handler.postprocess(handler.inference(handler.preprocess([{"body": {"text": texts, **extra}}])))[0]


def create_app(fast: SentimentHandler, accurate: SentimentHandler) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    @app.post("/predict")
    def predict():
        body = request.get_json(force=True)
        texts = [body["text"]] if isinstance(body["text"], str) else body["text"]
        results = score(fast, texts)
        if not body.get("do_fast", True):  # the served blend: BERT with the fast model's probabilities
            results = score(accurate, texts, fast_positive=[positive(r) for r in results])
        return jsonify({str(i): {"text": t, **r} for i, (t, r) in enumerate(zip(texts, results))})

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    store = ModelStore(get_settings().model_store)
    parser.add_argument("--fast-mar", type=Path, default=store.archive_path(FAST))
    parser.add_argument("--accurate-mar", type=Path, default=store.archive_path(ACCURATE))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="seed_style_") as tmp:
        fast = load_archive(FastHandler(), args.fast_mar, Path(tmp) / FAST)
        accurate = load_archive(AccurateHandler(), args.accurate_mar, Path(tmp) / ACCURATE)
        create_app(fast, accurate).run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
