"""POST /predict: validate, score with the chosen mode (core/scoring.py), answer in the seed's shape."""
from flask import Blueprint, jsonify

from core.errors import BackendError
from core.scoring import score
from core.settings import Settings
from gateway.instruments import FALLBACKS, REVIEWS
from gateway.observability import note, request_id
from gateway.request_body import parse, request_json
from gateway.routes import errors, route
from gateway.schemas import PredictResponse, predict_request_model
from gateway.services import current_settings, get_prediction_log, get_predictor, get_signals

blueprint = Blueprint("predict", __name__)


def request_model(settings: Settings):
    return predict_request_model(settings.max_texts, settings.max_text_chars, settings.max_explain_texts)


@route(blueprint, "post", "/predict", "Label one review or a list of reviews",
       {200: (PredictResponse, "a label and confidence per review"), **errors(400, 413, 502, 503, 504)},
       body=request_model)
def predict():
    settings = current_settings()
    body = parse(request_model(settings), request_json())
    texts, mode = body.texts, body.resolved_mode
    note(model=mode, texts=len(texts))
    scored = score(get_predictor(), mode, texts, settings.auto_threshold, body.explain, request_id())
    note(version=",".join(f"{m}:{v}" for m, v in scored.versions.items()) if mode == "auto"
         else scored.versions.get(mode))
    if scored.fell_back:
        FALLBACKS.labels(mode).inc()
    answer = {}
    for i, (text, item) in enumerate(zip(texts, scored.items)):
        if "error" in item or "label" not in item:
            raise BackendError(f"model '{item.get('model', mode)}' could not score text[{i}]")
        answer[str(i)] = {"text": text, **{k: item[k] for k in ("label", "confidence", "model", "explanation")
                                          if k in item}}
        REVIEWS.labels(item["model"]).inc()
    get_signals().observe(mode, texts, scored)
    get_prediction_log().record(request_id(), texts, scored)
    return jsonify(answer)
