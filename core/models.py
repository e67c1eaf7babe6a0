"""The model vocabulary: one name per model, used in code, archives, the registry, logs and the API.

`fast` is the NB-SVM over character and morpheme n-grams; `accurate` is the compact BERT blended with
the fast model. Seed-era request flags (do_fast, use_fast, model_type) are translated into these
names once, at the gateway's edge (gateway/schemas.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.paths import PROJECT_ROOT
from handlers.artifacts import FAST_MODEL_FILE, LABELS

ModelName = Literal["fast", "accurate"]
FAST: ModelName = "fast"
ACCURATE: ModelName = "accurate"

HANDLERS_DIR = PROJECT_ROOT / "handlers"
MODEL_CONFIG_DIR = PROJECT_ROOT / "model_config"


@dataclass(frozen=True)
class ModelSpec:
    name: ModelName
    handler: str  # module in handlers/ that TorchServe loads
    source_dir: str  # the trained directory under models_dir that its archive packs
    required_file: str  # absence means the model was never trained

    @property
    def handler_path(self) -> Path:
        return HANDLERS_DIR / self.handler

    @property
    def model_config(self) -> Path:
        """Worker and batching settings packed into the archive (TorchServe's model-config YAML)."""
        return MODEL_CONFIG_DIR / f"{self.name}.yaml"


MODELS: dict[ModelName, ModelSpec] = {
    FAST: ModelSpec(FAST, "fast_handler.py", "fast", FAST_MODEL_FILE),
    # The shipped BERT keeps its directory name; the accurate archive packs it with the fast model.
    ACCURATE: ModelSpec(ACCURATE, "accurate_handler.py", "nsmc_bert", "config.json"),
}

# Names an earlier layout used, for migrating an existing model store (core/store.py).
LEGACY_NAMES: dict[str, ModelName] = {"nsmc_fast": FAST, "nsmc_bert": ACCURATE}

# Two seed reviews with known labels: the rollout's smoke test and the readiness probe score them.
CANARY_POSITIVE = "음악이 주가 된, 최고의 음악영화"
CANARY_NEGATIVE = "발연기 도저히 못보겠다 진짜 이렇게 연기를 못할거라곤 상상도 못했네"
CANARY_TEXTS = (CANARY_POSITIVE, CANARY_NEGATIVE)
CANARY_LABELS = (LABELS[1], LABELS[0])
