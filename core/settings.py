"""Every setting of the service, in one documented struct (docs/settings.md lists them all).

Each field is read from the environment variable SENTIMENT_<FIELD NAME IN CAPITALS>; the one
exception is the corpus directory, which also answers to NSMC_DIR (what CI and the Makefile set).
The stack hands the same values to every process it starts (`Settings.as_env`), so the gateway,
its gunicorn workers, the training job and TorchServe's config all read one source.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.models import MODELS, ModelName
from core.paths import PROJECT_ROOT

ENV_PREFIX = "SENTIMENT_"
# Rows in NSMC's splits (train/data.py checks the files by git blob id): a train_limit asks for at
# most the whole train split.
NSMC_ROWS = {"train": 150_000, "test": 50_000}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    # ---- where things live ------------------------------------------------------------------
    run_dir: Path = Field(PROJECT_ROOT / "run", description=
                          "Runtime state: pid files, logs, TorchServe's key file, the admin token, job status.")
    model_store: Path = Field(PROJECT_ROOT / "archives", description=
                              "TorchServe's model store: the .mar archives and registry.json (what is served).")
    models_dir: Path = Field(PROJECT_ROOT / "models", description=
                             "Trained model directories (models/fast, models/nsmc_bert, retrained versions).")
    nsmc_dir: Optional[Path] = Field(None, validation_alias=AliasChoices("SENTIMENT_NSMC_DIR", "NSMC_DIR"),
                                     description="Directory with NSMC's ratings_{train,test}.txt; unset: "
                                                 "download into nsmc_cache_dir.")
    nsmc_cache_dir: Path = Field(Path.home() / ".cache" / "nsmc", description=
                                 "Where the corpus is downloaded to (and found by `make test`).")

    served_models: list[ModelName] = Field(list(MODELS), description=
                                                             "Models this deployment serves: loaded at start, "
                                                             "reported by /health and checked by /readyz. JSON "
                                                             "list in the environment.")

    # ---- the gateway (gunicorn) -------------------------------------------------------------
    gateway_bind: str = Field("127.0.0.1:5000", description=
                              "host:port the gateway listens on; 0.0.0.0:5000 serves other machines.")
    gateway_workers: int = Field(2, ge=1, description="gunicorn worker processes.")
    gateway_worker_connections: int = Field(1000, ge=1, description=
                                            "Connections one worker holds at once (gevent greenlets); "
                                            "more wait in the listen backlog.")
    gateway_backlog: int = Field(2048, ge=1, description="Listen backlog: connections queued beyond the above.")
    gateway_keepalive_seconds: int = Field(5, ge=1, description=
                                             "An idle keep-alive connection, or one that has not sent its "
                                             "request line and headers, is closed after this long.")
    gateway_body_seconds: float = Field(10.0, gt=0, description=
                                        "A request whose body has not fully arrived after this long is "
                                        "answered 408 and closed.")
    gateway_timeout_seconds: int = Field(60, ge=1, description=
                                         "gunicorn's worker timeout: a worker that has not told the arbiter it "
                                         "is alive for this long (its event loop blocked) is killed and replaced.")
    gateway_graceful_timeout_seconds: int = Field(10, ge=1, description=
                                                  "On stop or restart, a worker has this long to finish the "
                                                  "requests it holds before it is killed.")
    log_level: str = Field("info", description="Log level of the gateway and the training job.")

    # ---- requests ----------------------------------------------------------------------------
    max_texts: int = Field(64, ge=1, description="Texts per /predict request.")
    max_text_chars: int = Field(2000, ge=1, description="Characters per text.")
    # Room for max_texts x max_text_chars even when every character arrives as a JSON surrogate-pair
    # escape (12 bytes), so no request within the text limits is refused for its size.
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Bytes per request body.")
    timeout_seconds: float = Field(10.0, gt=0, description="Per TorchServe call; past it the client gets 504.")
    calls_in_flight: int = Field(2, ge=0, description=
                                 "TorchServe calls a gateway worker keeps in flight per model; requests that "
                                 "arrive meanwhile go together in the next call. 0: every request its own call. "
                                 "2 beat 1 and 0 in `python -m bench.settings_ab` (docs/performance.md).")
    max_explain_texts: int = Field(8, ge=1, description="Texts per /predict request with explain: true "
                                                        "(explaining costs one model call per word).")
    auto_threshold: float = Field(0.767, ge=0.5, le=1.0, description=
                                  "mode auto: a text whose fast confidence is below this goes on to the "
                                  "accurate model. Chosen on dev by `python -m bench.cascade`.")
    live_signals: bool = Field(True, description=
                               "Count what the models answer on live traffic: confidence (estimated accuracy), "
                               "labels, text length and unknown n-grams per model version (GET /metrics, /models).")
    shadow_rate: float = Field(0.02, ge=0.0, le=1.0, description=
                               "Share of fast-only requests also scored by the accurate model, off the request "
                               "path, to count how often the two agree. 0: off.")
    shadow_queue: int = Field(64, ge=1, description=
                              "Shadow requests a gateway worker holds waiting; more are dropped (and counted).")
    readiness_timeout_seconds: float = Field(2.0, gt=0, description=
                                             "/readyz: each served model must answer a canned prediction this fast.")
    admin_token: Optional[str] = Field(None, description=
                                       "Bearer token for /train and rollback; unset: admin_token_file.")
    admin_token_file: Optional[Path] = Field(None, description=
                                             "Made with mode 0600 on first start. Default: <run_dir>/admin_token.")

    # ---- the database: prediction log and feedback ---------------------------------------------
    database_url: Optional[str] = Field(None, description=
                                        "PostgreSQL for the prediction log and feedback "
                                        "(postgresql://user:password@host:5432/db); unset: SQLite in one file "
                                        "under the model store. Required when stacks share the store.")
    replicas: int = Field(1, ge=1, description=
                          "Stacks that share this model store (the Kubernetes overlays set it); above 1 the "
                          "default SQLite database is refused.")
    prediction_log: bool = Field(True, description=
                                 "Log every /predict answer item (request id, index, text hash, label, "
                                 "confidence, model, version, time) off the request path, so feedback can name it.")
    prediction_log_texts: bool = Field(True, description=
                                       "Keep each logged text too (a correction by request id needs it to be "
                                       "learned from); false: its hash only.")
    prediction_log_days: float = Field(30.0, gt=0, description="Logged predictions older than this are deleted.")
    prediction_log_max_rows: int = Field(1_000_000, ge=1000, description=
                                         "At most this many logged predictions are kept (the oldest go first).")
    prediction_log_queue: int = Field(1024, ge=1, description=
                                      "Answers a gateway worker holds waiting to be logged; more are dropped "
                                      "(and counted), never slowing /predict.")
    feedback_token: Optional[str] = Field(None, description=
                                          "Bearer token for POST /feedback (the admin token works too); "
                                          "unset: feedback_token_file.")
    feedback_token_file: Optional[Path] = Field(None, description=
                                                "Made with mode 0600 on first start. Default: <run_dir>/feedback_token.")
    feedback_max_items: int = Field(1000, ge=1, description="Items per POST /feedback.")
    feedback_max_rows: int = Field(5_000_000, ge=1000, description=
                                   "Feedback rows kept at most; past it POST /feedback answers 409.")
    feedback_rate_limit: str = Field("10/second", description=
                                     "POST /feedback calls per client (token and address), per gateway worker "
                                     "(Flask-Limiter's syntax, e.g. 10/second).")
    feedback_holdout_share: float = Field(0.2, ge=0.0, lt=1.0, description=
                                          "Share of the feedback held out of training (by a stable hash of the "
                                          "text) to gate new versions on.")
    feedback_min_holdout: int = Field(100, ge=1, description=
                                      "Held-out feedback rows the gate needs to judge a version on them; below "
                                      "it, the NSMC gate alone (\"insufficient feedback\").")
    feedback_gate_alpha: float = Field(0.05, gt=0, lt=1, description=
                                       "The feedback gate refuses a version that is worse than the serving one "
                                       "on the holdout at this significance (one-sided exact McNemar test).")
    quarantine_confidence: float = Field(0.97, gt=0.5, le=1.0, description=
                                         "Feedback whose label every serving model contradicts with at least "
                                         "this confidence is quarantined: never trained on.")
    quarantine_source_share: float = Field(0.2, gt=0, le=1.0, description=
                                           "A source more than this share of whose screened rows are quarantined "
                                           "is quarantined whole, as a poisoned batch (from 20 rows on).")
    trusted_sources: list[str] = Field([], description=
                                       "Sources whose feedback is never quarantined (e.g. your moderators, who "
                                       "correct what both models get wrong on purpose). JSON list in the environment.")
    max_source_share: float = Field(1.0, gt=0, le=1.0, description=
                                    "No single source makes up more than this share of the training feedback "
                                    "(larger ones are sampled down; 1: off). Below 1 only where many small "
                                    "sources contribute: a big honest source is sampled down to balance a small one.")
    retrain_after_rows: int = Field(0, ge=0, description=
                                    "Start a /train job by itself once this many new feedback rows arrived "
                                    "since the last job; 0: off.")
    retrain_debounce_seconds: float = Field(600.0, ge=0, description=
                                            "The automatic trigger waits at least this long after the last job.")

    # ---- TorchServe --------------------------------------------------------------------------
    torchserve_host: str = Field("127.0.0.1", description="Where TorchServe's listeners bind: keep it loopback.")
    inference_port: int = Field(8080, description="TorchServe inference API.")
    management_port: int = Field(8081, description="TorchServe management API (register, scale, set-default).")
    metrics_port: int = Field(8082, description="TorchServe metrics API.")
    grpc_inference_port: int = Field(7070, description="TorchServe 0.12 always opens gRPC; pinned to loopback.")
    grpc_management_port: int = Field(7071, description="See grpc_inference_port.")
    key_file: Optional[Path] = Field(None, description=
                                     "TorchServe's token keys (it writes them where it starts). "
                                     "Default: <run_dir>/key_file.json.")

    reconcile_seconds: float = Field(5.0, gt=0, description=
                                     "How often each stack's reconciler makes its TorchServe serve what the "
                                     "registry says (a promotion reaches every replica within about this "
                                     "plus the time to load the model).")

    # ---- training jobs (/train) ---------------------------------------------------------------
    job_dir: Optional[Path] = Field(None, description="Job status files, logs and the job lock. "
                                                      "Default: <run_dir>/jobs.")
    promotion_tolerance: float = Field(0.5, ge=0, description=
                                       "Accuracy points a new version may lose against the serving one "
                                       "and still be promoted.")
    train_limit: Optional[int] = Field(None, ge=1000, description=
                                       "Train on a stratified subset (tests, quick trials); unset: all of NSMC.")
    test_limit: Optional[int] = Field(None, ge=100, description="Evaluate on a stratified subset; unset: all.")
    accurate_train_minutes: float = Field(20.0, gt=0, description=
                                          "A /train job for the accurate model continues its fine-tuning on the "
                                          "feedback for at most this long (CPU; the learning rate follows the budget).")
    rollout_timeout_seconds: float = Field(30.0, gt=0, description=
                                           "Per TorchServe call of a training job (register, smoke test, "
                                           "set-default, unregister): registering loads the model, which takes "
                                           "longer than a prediction.")

    @model_validator(mode="after")
    def _derived_paths(self) -> "Settings":
        self.admin_token_file = self.admin_token_file or self.run_dir / "admin_token"
        self.key_file = self.key_file or self.run_dir / "key_file.json"
        self.job_dir = self.job_dir or self.run_dir / "jobs"
        self.feedback_token_file = self.feedback_token_file or self.run_dir / "feedback_token"
        return self

    @property
    def inference_url(self) -> str:
        return f"http://{self.torchserve_host}:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://{self.torchserve_host}:{self.management_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.torchserve_host}:{self.metrics_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_bind}"

    def as_env(self) -> dict[str, str]:
        """These settings as SENTIMENT_* variables, for the processes the stack starts."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"{ENV_PREFIX}{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
        return env


@functools.lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()


def settings_table() -> str:
    """Every setting as a Markdown table (docs/settings.md is this output; a test keeps them equal)."""
    rows = ["| environment variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, Path):
            default = default.relative_to(PROJECT_ROOT) if default.is_relative_to(PROJECT_ROOT) \
                else str(default).replace(str(Path.home()), "~")
        shown = "unset" if default is None else json.dumps(default) if isinstance(default, list) else default
        variable = f"`{ENV_PREFIX}{name.upper()}`" + (" (or `NSMC_DIR`)" if name == "nsmc_dir" else "")
        rows.append(f"| {variable} | `{shown}` | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
