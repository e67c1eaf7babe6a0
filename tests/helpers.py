"""Small utilities shared by tests (no mocks of TorchServe live here)."""
from __future__ import annotations

import socket

from ts.context import Context, RequestProcessor

SEED_POSITIVE = "음악이 주가 된, 최고의 음악영화"
SEED_NEGATIVE = "발연기 도저히 못보겠다 진짜 이렇게 연기를 못할거라곤 상상도 못했네"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchserve_context(model_dir, serialized_file=None, batch_size=8) -> Context:
    """The Context TorchServe's worker builds for a handler, for `batch_size` requests."""
    manifest = {"model": {"modelName": "test", "handler": "handler.py"}}
    if serialized_file:
        manifest["model"]["serializedFile"] = serialized_file
    context = Context("test", str(model_dir), manifest, batch_size, None, "0.12.0")
    context.request_processor = [RequestProcessor({}) for _ in range(batch_size)]
    return context
