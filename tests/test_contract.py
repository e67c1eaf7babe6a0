"""The OpenAPI document matches the routes, and the live gateway keeps it under fuzzing (schemathesis)."""
from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from core.models import MODELS
from core.paths import PROJECT_ROOT
from core.settings import Settings
from gateway.openapi import build_document
from gateway.routes import openapi_path

FUZZ_EXAMPLES = 40  # per operation; bounded so CI stays fast


def test_document_lists_exactly_the_routes(make_client):
    """Every route is declared with gateway.routes.route, which both adds it and documents it; this
    catches one added to Flask any other way (or a documented one the app does not register)."""
    app = make_client().application
    routes = {(method.lower(), openapi_path(rule.rule))
              for rule in app.url_map.iter_rules() if rule.endpoint.rpartition(".")[2] != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    document = build_document(Settings())
    declared = {(method, path) for path, item in document["paths"].items() for method in item}
    assert routes == declared


def test_document_carries_the_configured_limits(make_client):
    document = make_client(max_texts=7, max_text_chars=99).get("/openapi.json").json
    text = document["components"]["schemas"]["PredictRequest"]["properties"]["text"]
    one, many = text["oneOf"]
    assert (one["maxLength"], many["maxItems"], many["items"]["maxLength"]) == (99, 7, 99)


@schemathesis.check
def no_internal_details(ctx, response, case):
    """No stack trace or server path in any answer (the echoed reviews are the client's own text)."""
    body = response.text
    assert "Traceback" not in body, "a stack trace reached the client"
    assert str(PROJECT_ROOT) not in body, "a server path reached the client"


@pytest.fixture(scope="module")
def served_before_fuzzing(full_stack):
    return _served(full_stack)


def _served(stack) -> dict:
    """Each model's registered versions and its default one, straight from TorchServe."""
    keys = json.loads(stack.key_file.read_text())
    headers = {"Authorization": f"Bearer {keys['management']['key']}"}

    def get(path):
        return requests.get(f"{stack.management_url}{path}", headers=headers, timeout=10).json()

    return {model: (sorted(v["modelVersion"] for v in get(f"/models/{model}/all")),
                    get(f"/models/{model}")[0]["modelVersion"])
            for model in MODELS}


# The document the stack's gateway serves (default settings); built here because schemathesis'
# fixture-based loader does not work with pytest 9. The next test checks the live one is the same.
schema = schemathesis.openapi.from_dict(build_document(Settings()))


@pytest.mark.e2e
def test_live_document_is_the_one_fuzzed(full_stack):
    live = requests.get(f"{full_stack.gateway_url}/openapi.json", timeout=10).json()
    assert live == json.loads(json.dumps(build_document(Settings())))


@pytest.mark.e2e
@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_gateway_keeps_its_contract(case, full_stack, served_before_fuzzing):
    """Every check schemathesis has (no 5xx, responses match the document, auth not ignored, ...)."""
    case.call_and_validate(base_url=full_stack.gateway_url, additional_checks=[no_internal_details], timeout=60)


@pytest.mark.e2e
def test_fuzzing_changed_nothing_that_is_served(full_stack, served_before_fuzzing):
    """Runs after the fuzz cases: without the admin token nothing was trained, registered or rolled back."""
    assert _served(full_stack) == served_before_fuzzing
    assert requests.get(f"{full_stack.gateway_url}/train", timeout=10).status_code == 404
