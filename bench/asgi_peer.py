"""The peer a Python team would write instead of gateway → TorchServe: an in-process ASGI app.

    python -m bench.asgi_peer [--port 5060] [--workers 2] [--fast-mar ...] [--accurate-mar ...]

Starlette on uvicorn (uvloop, httptools), one worker process a core. Each worker unpacks the same
.mar archives TorchServe serves and holds both handlers (train.inprocess.load_archive), and scores
inside its request, on the event loop: the fast model, then, for the accurate path, BERT blended
with the fast probabilities, through the handlers' own preprocess → inference → postprocess (the
seed-style app's `score`). Same JSON in and out as the gateway, without its validation.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from train.inprocess import load_archive
from bench.seed_style_app import score
from core.models import ACCURATE, FAST
from core.scoring import positive
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.fast_handler import FastHandler

_ENV_FAST, _ENV_ACCURATE = "ASGI_PEER_FAST_MAR", "ASGI_PEER_ACCURATE_MAR"


def _json(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json")


def create_app() -> Starlette:
    """One worker's app (uvicorn calls this factory in each worker process)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    unpacked = Path(tempfile.mkdtemp(prefix="asgi_peer_"))
    fast = load_archive(FastHandler(), Path(os.environ[_ENV_FAST]), unpacked / FAST)
    accurate = load_archive(AccurateHandler(), Path(os.environ[_ENV_ACCURATE]), unpacked / ACCURATE)

    async def predict(request: Request) -> Response:
        body = orjson.loads(await request.body())
        texts = [body["text"]] if isinstance(body["text"], str) else body["text"]
        results = score(fast, texts)
        if not body.get("do_fast", True):
            results = score(accurate, texts, fast_positive=[positive(r) for r in results])
        return _json({str(i): {"text": t, **r} for i, (t, r) in enumerate(zip(texts, results))})

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])


def main(argv=None):
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5060)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (one a core)")
    store = ModelStore(get_settings().model_store)
    parser.add_argument("--fast-mar", type=Path, default=store.archive_path(FAST))
    parser.add_argument("--accurate-mar", type=Path, default=store.archive_path(ACCURATE))
    args = parser.parse_args(argv)
    os.environ[_ENV_FAST], os.environ[_ENV_ACCURATE] = str(args.fast_mar.resolve()), str(args.accurate_mar.resolve())
    uvicorn.run("bench.asgi_peer:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                loop="uvloop", http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
