"""Project-wide paths and constants: the one place configuration lives."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("SENTIMENT_MODELS_DIR", PROJECT_ROOT / "models"))
MODEL_STORE = Path(os.environ.get("SENTIMENT_MODEL_STORE", PROJECT_ROOT / "archives"))

FAST_MODEL_NAME = "nsmc_fast"
ACCURATE_MODEL_NAME = "nsmc_bert"

LABELS = ("negative", "positive")  # index = NSMC label

NSMC_FILES = {
    # git blob ids (`git hash-object FILE`) of the canonical corpus at github.com/e9t/nsmc
    "train": ("ratings_train.txt", "ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876"),
    "test": ("ratings_test.txt", "b6cfcd8cd1557bcd9bf06617b0e429ed73e9a367"),
}
NSMC_URL = "https://raw.githubusercontent.com/e9t/nsmc/master/{filename}"
NSMC_DIR_ENV = "NSMC_DIR"
NSMC_CACHE_DIR = Path(os.environ.get("NSMC_CACHE_DIR", Path.home() / ".cache" / "nsmc"))
