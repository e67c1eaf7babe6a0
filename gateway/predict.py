"""POST /predict: validate, forward to the chosen TorchServe model, answer in the seed's shape."""
from flask import Blueprint, current_app, jsonify

from gateway.errors import ApiError
from gateway.schemas import parse, predict_request_model, request_json

blueprint = Blueprint("predict", __name__)


@blueprint.post("/predict")
def predict():
    settings = current_app.config["SETTINGS"]
    body = parse(predict_request_model(settings.max_texts, settings.max_text_chars),
                 request_json())
    model = settings.fast_model if body.fast else settings.accurate_model
    texts = body.texts
    results = current_app.extensions["torchserve"].predict(model, texts)
    answer = {}
    for i, (text, result) in enumerate(zip(texts, results)):
        if "error" in result or "label" not in result:
            raise ApiError(502, "backend_error", f"model '{model}' could not score text[{i}]")
        answer[str(i)] = {"text": text, "label": result["label"], "confidence": result["confidence"]}
    return jsonify(answer)
