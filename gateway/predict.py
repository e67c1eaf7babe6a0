"""POST /predict: validate, forward to the chosen TorchServe model, answer in the seed's shape."""
from flask import Blueprint, jsonify

from core.errors import BackendError
from gateway.metrics import REVIEWS
from gateway.observability import note, request_id
from gateway.schemas import parse, predict_request_model, request_json
from gateway.services import get_client, get_settings

blueprint = Blueprint("predict", __name__)


@blueprint.post("/predict")
def predict():
    settings = get_settings()
    body = parse(predict_request_model(settings.max_texts, settings.max_text_chars), request_json())
    texts = body.texts
    note(model=body.model, texts=len(texts))
    scored = get_client().predict(body.model, texts, request_id=request_id())
    note(version=scored.version)
    answer = {}
    for i, (text, result) in enumerate(zip(texts, scored.results)):
        if "error" in result or "label" not in result:
            raise BackendError(f"model '{body.model}' could not score text[{i}]")
        answer[str(i)] = {"text": text, "label": result["label"], "confidence": result["confidence"]}
    REVIEWS.labels(body.model).inc(len(texts))
    return jsonify(answer)
