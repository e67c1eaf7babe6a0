"""GET /openapi.json: the contract, built once at start (gateway/openapi.py)."""
from flask import Blueprint, jsonify

from gateway.routes import route
from gateway.services import get_openapi

blueprint = Blueprint("docs", __name__)


@route(blueprint, "get", "/openapi.json", "This document", {200: (None, "the OpenAPI document")})
def openapi_document():
    return jsonify(get_openapi())
