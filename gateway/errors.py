"""The one error shape every gateway response uses: {"error": {"code", "message", "field"}}."""
from __future__ import annotations

from flask import jsonify


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra

    def response(self):
        body = {"error": {"code": self.code, "message": self.message, "field": self.field, **self.extra}}
        return jsonify(body), self.status
