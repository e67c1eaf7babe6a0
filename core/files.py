"""Files that readers may open at any moment: written whole or not at all."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path


def write_json_atomic(path: Path, data, indent: int | None = 2, mode: int = 0o666) -> None:
    """`data` as JSON at `path`, replaced atomically: a reader sees the old file or the new one,
    never half of one. The temporary file sits beside `path` (same file system, so the rename is
    atomic) under a name of its own, so two writers never share one; `mode` is its permissions
    before the umask."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(data, file, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
