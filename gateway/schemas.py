"""Request models: validation is declared here, not scattered through the views."""
from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, ValidationInfo, field_validator

from gateway.errors import ApiError


class PredictRequest(BaseModel):
    """`text` is one review or a list; `do_fast` picks the model (seed clients' aliases accepted)."""

    model_config = ConfigDict(extra="ignore")

    text: Union[StrictStr, list[StrictStr]] = Field(description="a review or a list of reviews")
    do_fast: StrictBool | None = Field(None, description="true: Naive Bayes (default); false: BERT")
    use_fast: StrictBool | None = Field(None, description="seed-era alias of do_fast")
    model_type: Literal["ml", "dl"] | None = Field(None, description="seed-era alias: 'ml' fast, 'dl' BERT")

    @field_validator("text")
    @classmethod
    def _within_limits(cls, value, info: ValidationInfo):
        texts = [value] if isinstance(value, str) else value
        limits = info.context or {}
        if not texts:
            raise ValueError("must not be empty")
        if len(texts) > limits.get("max_texts", len(texts)):
            raise ValueError(f"at most {limits['max_texts']} texts per request (got {len(texts)})")
        for i, text in enumerate(texts):
            where = "text" if isinstance(value, str) else f"text[{i}]"
            if not text.strip():
                raise ValueError(f"{where} is empty")
            if len(text) > limits.get("max_text_chars", len(text)):
                raise ValueError(f"{where} is longer than {limits['max_text_chars']} characters")
        return value

    @property
    def texts(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)

    @property
    def fast(self) -> bool:
        """do_fast wins over use_fast, which wins over model_type; the default is the fast model."""
        for flag in (self.do_fast, self.use_fast):
            if flag is not None:
                return flag
        return self.model_type != "dl"


def parse(model: type[BaseModel], payload, **context):
    """Validate a JSON payload, turning the first problem into a 400 ApiError."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"] if not str(part).startswith(("str", "list[")))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        if field and not message.startswith(field):
            message = f"{field}: {message}"
        raise ApiError(400, "invalid_request", message, field or None) from None
