"""The one error shape every gateway response uses: {"error": {"code", "message", "field"}}."""
from __future__ import annotations

import re

from flask import jsonify

# An absolute path of two or more components; only its last component is kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def redact_paths(text: str) -> str:
    """Server-side file paths say nothing useful to a client and too much to an attacker."""
    return _ABSOLUTE_PATH.sub(r"\1", text)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra

    def response(self, headers: dict | None = None):
        body = {"error": {"code": self.code, "message": redact_paths(self.message), "field": self.field,
                          **self.extra}}
        return jsonify(body), self.status, headers or {}
