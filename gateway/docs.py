"""GET /openapi.json: the contract, built once at start (gateway/openapi.py)."""
from flask import Blueprint, jsonify

from gateway.services import get_openapi

blueprint = Blueprint("docs", __name__)


@blueprint.get("/openapi.json")
def openapi_document():
    return jsonify(get_openapi())
