"""POST /predict: validate, forward to the chosen TorchServe model, answer in the seed's shape."""
from flask import Blueprint, current_app, jsonify, request

from gateway.errors import ApiError
from gateway.schemas import PredictRequest, parse

blueprint = Blueprint("predict", __name__)


@blueprint.post("/predict")
def predict():
    settings = current_app.config["SETTINGS"]
    body = parse(PredictRequest, request.get_json(force=True, silent=True),
                 max_texts=settings.max_texts, max_text_chars=settings.max_text_chars)
    model = settings.fast_model if body.fast else settings.accurate_model
    texts = body.texts
    results = current_app.extensions["torchserve"].predict(model, texts)
    answer = {}
    for i, (text, result) in enumerate(zip(texts, results)):
        if "error" in result or "label" not in result:
            raise ApiError(502, "backend_error", f"model '{model}' could not score text[{i}]")
        answer[str(i)] = {"text": text, "label": result["label"], "confidence": result["confidence"]}
    return jsonify(answer)
