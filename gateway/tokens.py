"""A token file (the admin token, the feedback token): created once, atomically, with mode 0600."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_token(path: Path) -> str:
    """The token in `path`, creating it on first start.

    Several gunicorn workers start at once, so the file must never be seen half-written: the
    token is written to a private temporary file and then hard-linked into place, which fails
    for every worker but the first; all of them then read the same complete token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker won the race; use its token
        finally:
            tmp.unlink()
    token = path.read_text().strip()
    if not token:
        raise RuntimeError(f"token file {path} is empty: delete it (a new one is made) "
                           "or set the token in its setting (docs/settings.md)")
    return token
