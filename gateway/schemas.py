"""The gateway's contract: request and response models.

Requests are validated by these pydantic models and nothing else, and the OpenAPI document
(gateway/openapi.py) is generated from the same models, so the two cannot disagree. Limits that
come from settings (texts per request, characters per text) are declared in the schema too:
`predict_request_model` builds the request model for the configured limits.
"""
from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, RootModel, StrictBool,
                      StrictStr, StringConstraints, Tag, create_model, model_validator)

from core.errors import InvalidRequest
from core.models import ACCURATE, FAST, ModelName
from handlers.artifacts import LABELS
from handlers.text import not_blank_pattern
from core.scoring import Mode
from core.settings import NSMC_ROWS

# ---- requests ------------------------------------------------------------------------------------


class PredictRequestBase(BaseModel):
    """`text` is one review or a list; `mode` picks the model (seed clients' `do_fast`, `use_fast`
    and `model_type` still work)."""

    model_config = ConfigDict(extra="ignore")

    text: Any  # narrowed with the configured limits by predict_request_model
    mode: Optional[Mode] = Field(
        None, description="fast, accurate, or auto (the fast model answers when it is sure, the accurate one "
                          "when it is not); wins over the seed-era flags")
    explain: StrictBool = Field(False, description="also return, per text, the word spans that pushed the label "
                                                   "and their signed weights (limited texts per request)")
    do_fast: Optional[StrictBool] = Field(None, description="true: the fast Naive Bayes model (default); "
                                                            "false: the accurate BERT model")
    use_fast: Optional[StrictBool] = Field(None, description="seed-era alias of do_fast")
    model_type: Optional[Literal["ml", "dl"]] = Field(None, description="seed-era alias: 'ml' fast, 'dl' accurate")

    @property
    def texts(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)

    @property
    def resolved_mode(self) -> Mode:
        """The one place request flags become a mode: `mode` wins; then the seed-era flags, do_fast
        over use_fast over model_type; the default is the fast model."""
        if self.mode is not None:
            return self.mode
        for flag in (self.do_fast, self.use_fast):
            if flag is not None:
                return FAST if flag else ACCURATE
        return ACCURATE if self.model_type == "dl" else FAST


def _one_or_many(value) -> str:
    return "many" if isinstance(value, list) else "one"


@functools.lru_cache
def predict_request_model(max_texts: int, max_text_chars: int, max_explain_texts: int) -> type[PredictRequestBase]:
    review = Annotated[StrictStr, StringConstraints(min_length=1, max_length=max_text_chars, pattern=not_blank_pattern())]
    reviews = Annotated[list[review], Field(min_length=1, max_length=max_texts)]
    # Tagged by the JSON type sent, so a bad list reports the bad item, not "should be a string".
    text = Annotated[Union[Annotated[review, Tag("one")], Annotated[reviews, Tag("many")]],
                     Discriminator(_one_or_many)]
    def explain_limit(request):
        if request.explain and len(request.texts) > max_explain_texts:  # raised as is: 400, field "text"
            raise InvalidRequest(f"text: at most {max_explain_texts} texts per request with explain",
                                 field="text")
        return request

    model = create_model(
        "PredictRequest", __base__=PredictRequestBase,
        __validators__={"explain_limit": model_validator(mode="after")(explain_limit)},
        text=(text, Field(description=f"a review, or a list of 1 to {max_texts} reviews; "
                                      f"each 1 to {max_text_chars} characters, not blank; "
                                      f"at most {max_explain_texts} with explain")),
    )
    # The same limit in the document (JSON Schema 2020-12 if/then), so clients and fuzzers see it.
    model.model_config["json_schema_extra"] = {
        "if": {"properties": {"explain": {"const": True}}, "required": ["explain"]},
        "then": {"properties": {"text": {"anyOf": [{"type": "string"},
                                                    {"type": "array", "maxItems": max_explain_texts}]}}}}
    model.model_rebuild(force=True)
    return model


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["fast"] = Field("fast", description="only the fast model is retrained online")
    wait: StrictBool = Field(False, description="block until the job ends and answer its result")
    train_limit: Optional[Annotated[int, Field(ge=1000, le=NSMC_ROWS["train"])]] = Field(
        None, description="train on a stratified subset of this many rows (quick trials)")


# ---- responses -----------------------------------------------------------------------------------


class Span(BaseModel):
    start: int = Field(description="offset of the span's first character in the text as sent")
    end: int = Field(description="offset just past its last character")
    text: str
    weight: float = Field(description="push towards positive (> 0) or negative (< 0), in logit units")


class Explanation(BaseModel):
    method: Literal["linear", "occlusion"] = Field(
        description="linear: the fast model's exact per-feature contributions (spans + bias = logit); "
                    "occlusion: the drop in the accurate model's logit when the word is left out")
    logit: float = Field(description="log-odds of positive, as the model computed it")
    bias: Optional[float] = Field(description="the linear model's intercept; null for occlusion")
    spans: list[Span]


class Prediction(BaseModel):
    text: str = Field(description="the review as sent")
    label: Literal[LABELS]
    confidence: float = Field(ge=0.5, le=1.0, description="probability of the label")
    model: ModelName = Field(description="which model answered (auto picks per text)")
    explanation: Optional[Explanation] = Field(None, description="with explain: true")


class PredictResponse(RootModel[dict[Annotated[str, StringConstraints(pattern=r"^[0-9]+$")], Prediction]]):
    """One entry per review, keyed by its position: {"0": {...}, "1": {...}}."""


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. job_id on 409 job_running

    code: str = Field(description="stable machine-readable code, e.g. invalid_request")
    message: str = Field(description="what went wrong, for people")
    field: Optional[str] = Field(description="the request field at fault, if any")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ModelHealth(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    deployed: Optional[bool] = Field(description="null when TorchServe could not say")
    ready: bool
    version: Optional[str] = None
    workers: list[str] = []
    detail: Optional[str] = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: every served model ready; degraded: TorchServe up but a served model is not ready; "
                    "down: TorchServe unreachable")
    gateway: Literal["ok"]
    torchserve: Literal["ok", "unreachable"]
    models: dict[ModelName, ModelHealth] = Field(description="each served model (the served_models setting)")


class JobError(BaseModel):
    step: Optional[str]
    message: str


class JobStatusResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    model: Literal["fast"]
    state: Literal["queued", "running", "succeeded", "failed"]
    step: Optional[str]
    progress: float
    started_at: str
    finished_at: Optional[str]
    elapsed_seconds: Optional[float]
    version: Optional[str]
    test_accuracy: Optional[float]
    serving_version: Optional[str]
    serving_accuracy: Optional[float]
    promoted: bool
    error: Optional[JobError]
    status_url: Optional[str] = Field(None, description="on 202: where to poll")


class RollbackResponse(BaseModel):
    model: Literal["fast"]
    serving: str = Field(description="the version now served")
    previous: str = Field(description="the version that was served before")


class LiveResponse(BaseModel):
    status: Literal["alive"]


class CanaryCheck(BaseModel):
    model_config = ConfigDict(extra="allow")

    ready: bool
    version: Optional[str] = None
    latency_ms: Optional[float] = None
    detail: Optional[str] = None


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    models: dict[ModelName, CanaryCheck]


class VersionInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str
    archive: str
    test_accuracy: Optional[float] = None
    created: Optional[str] = None
    data_blob_ids: Optional[dict[str, str]] = None


class ModelInfo(BaseModel):
    serving: Optional[VersionInfo]
    previous: Optional[VersionInfo]
    torchserve: dict[str, Any] = Field(description="registered_versions, default_version, workers, worker_states; "
                                                   "or reachable: false")


class ModelsResponse(RootModel[dict[ModelName, ModelInfo]]):
    """One entry per model."""
