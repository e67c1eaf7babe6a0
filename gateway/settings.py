"""Gateway configuration, from environment variables prefixed SENTIMENT_ (see README)."""
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from train import settings as project


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SENTIMENT_")

    inference_url: str = "http://127.0.0.1:8080"
    management_url: str = "http://127.0.0.1:8081"
    # TorchServe writes its keys where it starts; `make deploy` starts it in run/.
    key_file: Path = project.PROJECT_ROOT / "run" / "key_file.json"
    fast_model: str = project.FAST_MODEL_NAME
    accurate_model: str = project.ACCURATE_MODEL_NAME

    max_texts: int = 64
    max_text_chars: int = 2000
    max_body_bytes: int = 256 * 1024
    timeout_seconds: float = 10.0  # per TorchServe call; past it the client gets 504
