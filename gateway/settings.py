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

    # /train and rollback: the admin token (else the file below, made 0600 on first start)
    admin_token: str | None = None
    admin_token_file: Path = project.PROJECT_ROOT / "run" / "admin_token"
    job_dir: Path = project.PROJECT_ROOT / "run" / "jobs"
    model_store: Path = project.MODEL_STORE
    promotion_tolerance: float = 0.5  # accuracy points a new version may lose and still be promoted
    train_limit: int | None = None  # train/evaluate on subsets (tests, quick trials); None: full NSMC
    test_limit: int | None = None

    max_texts: int = 64
    max_text_chars: int = 2000
    # Room for max_texts x max_text_chars even when every character arrives as a JSON surrogate-pair
    # escape (12 bytes), so no request within the text limits is refused for its size.
    max_body_bytes: int = 2 * 1024 * 1024
    timeout_seconds: float = 10.0  # per TorchServe call; past it the client gets 504
