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
from gateway.observability import REQUEST_ID_PATTERN

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

    model: ModelName = Field("fast", description="fast: retrain on NSMC plus the feedback (~2 min); accurate: "
                                                  "continue the serving BERT's fine-tuning on the feedback and an "
                                                  "NSMC replay sample (at most accurate_train_minutes, then scoring)")
    wait: StrictBool = Field(False, description="block until the job ends and answer its result")
    train_limit: Optional[Annotated[int, Field(ge=1000, le=NSMC_ROWS["train"])]] = Field(
        None, description="fast: train on a stratified subset of this many NSMC rows; accurate: replay at most "
                          "this many (quick trials)")


SOURCE_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
DEFAULT_SOURCE = "api"


class FeedbackItemBase(BaseModel):
    """A correction of a served prediction ({request_id, index, label}: the /predict answer's
    X-Request-Id and item key) or a new labelled text ({text, label}); `source` says who sent it."""

    model_config = ConfigDict(extra="forbid")

    request_id: Optional[Annotated[StrictStr, StringConstraints(pattern=REQUEST_ID_PATTERN)]] = Field(
        None, description="the X-Request-Id of the /predict answer being corrected")
    index: Optional[Annotated[int, Field(ge=0, strict=True)]] = Field(
        None, description="the answer item's key (0 for \"0\")")
    text: Any = None  # narrowed with the configured limits by feedback_item_model
    label: Union[Literal[LABELS], Literal[0, 1]] = Field(description="the right label: negative/positive or 0/1")
    source: Optional[Annotated[StrictStr, StringConstraints(pattern=SOURCE_PATTERN)]] = Field(
        None, description=f"who labelled it (a moderator queue, a product); default: the request's, else "
                          f"'{DEFAULT_SOURCE}'")

    @model_validator(mode="after")
    def _one_kind(self):
        correction, labelled = self.request_id is not None or self.index is not None, self.text is not None
        if correction == labelled or (correction and (self.request_id is None or self.index is None)):
            raise InvalidRequest("an item is either {request_id, index, label} or {text, label}")
        return self

    @property
    def label_index(self) -> int:
        return self.label if isinstance(self.label, int) else LABELS.index(self.label)


@functools.lru_cache
def feedback_item_model(max_text_chars: int) -> type[FeedbackItemBase]:
    review = Annotated[StrictStr, StringConstraints(min_length=1, max_length=max_text_chars, pattern=not_blank_pattern())]
    return create_model("FeedbackItem", __base__=FeedbackItemBase, text=(Optional[review], Field(
        None, description=f"a labelled review, 1 to {max_text_chars} characters, not blank")))


@functools.lru_cache
def feedback_batch_model(max_items: int) -> type[BaseModel]:
    """{"items": [...], "source": ...}. The items are validated one by one (gateway/feedback.py),
    so one bad item is reported in its place and does not sink the rest."""

    class FeedbackBatch(BaseModel):
        model_config = ConfigDict(extra="forbid")

        items: Annotated[list[Any], Field(min_length=1, max_length=max_items, description=(
            f"1 to {max_items} items, each as the single-item form: {{request_id, index, label}} or {{text, label}}"))]
        source: Optional[Annotated[StrictStr, StringConstraints(pattern=SOURCE_PATTERN)]] = Field(
            None, description="the default source of the items")

    return FeedbackBatch


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
    model: ModelName
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
    feedback: Optional[dict[str, Any]] = Field(None, description="what the job learned from beside NSMC: cutoff id, "
                                                                 "counts, quarantined, capped sources")
    gate: Optional[dict[str, Any]] = Field(None, description="the NSMC and feedback-holdout verdicts (train/gate.py)")
    status_url: Optional[str] = Field(None, description="on 202: where to poll")


class RollbackResponse(BaseModel):
    model: ModelName
    serving: str = Field(description="the version now served")
    previous: str = Field(description="the version that was served before")


class FeedbackOutcome(BaseModel):
    status: Literal["stored", "duplicate", "error"] = Field(description="duplicate: stored before, under `id`")
    id: Optional[int] = Field(None, description="the feedback row's id (for DELETE /feedback/{id})")
    code: Optional[str] = Field(None, description="with error: e.g. unknown_prediction, invalid_request")
    message: Optional[str] = None


class FeedbackResponse(BaseModel):
    stored: int
    duplicate: int
    errors: int
    items: list[FeedbackOutcome] = Field(description="one per item sent, in order")


class FeedbackStats(BaseModel):
    rows: int
    latest_id: Optional[int]
    logged_predictions: int = Field(description="rows in the prediction log")
    by_label: dict[str, int]
    by_source: dict[str, int]
    by_model_version: dict[str, int] = Field(description="corrections by the model:version that answered; "
                                                         "'labelled text' for new texts")
    quarantined: int = Field(description="rows a /train job found contradicting every serving model with high "
                                         "confidence: never trained on")


class FeedbackExport(BaseModel):
    items: list[dict[str, Any]]
    next_after: Optional[int] = Field(description="pass as ?after= for the next page; null at the end")


class Erased(BaseModel):
    request_id: str
    predictions_deleted: int
    feedback_deleted: int


class Deleted(BaseModel):
    id: int
    deleted: Literal[True]


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
    feedback: Optional[dict[str, Any]] = Field(None, description="the feedback this version learned from: cutoff id, "
                                                                 "counts, a hash of the row ids (train/feedback.py)")


class ModelInfo(BaseModel):
    serving: Optional[VersionInfo]
    previous: Optional[VersionInfo]
    torchserve: dict[str, Any] = Field(description="registered_versions, default_version, workers, worker_states; "
                                                   "or reachable: false")


class ModelsResponse(RootModel[dict[ModelName, ModelInfo]]):
    """One entry per model."""
