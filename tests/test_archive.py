"""What `make archive` decides in Python: retrain only when missing, rebuild only what is stale."""
import os
import time

import joblib

from core.models import ACCURATE, MODELS
from core.settings import get_settings
from core.store import ModelStore
from handlers.artifacts import FAST_MODEL_FILE
from train import archive, fast, morphemes


def test_train_fast_if_missing_keeps_an_existing_model(tmp_path, capsys):
    (tmp_path / FAST_MODEL_FILE).write_bytes(b"trained before")
    assert fast.main(["--out", str(tmp_path), "--if-missing"]) == 0
    assert (tmp_path / FAST_MODEL_FILE).read_bytes() == b"trained before"
    assert "not retraining" in capsys.readouterr().out


def test_train_fast_with_morphemes_saves_that_recipe(tmp_path, monkeypatch, nsmc_dir):
    """`make train-fast FAST_ARGS=--morphemes`: the morpheme block is trained, and the recipe is saved
    where /train, train.blend and bench.cascade read it back."""
    monkeypatch.setenv("SENTIMENT_NSMC_CACHE_DIR", str(tmp_path / "cache"))  # not the user's analysis cache
    get_settings.cache_clear()
    try:
        assert fast.main(["--data-dir", str(nsmc_dir), "--out", str(tmp_path / "model"), "--morphemes",
                          "--train-limit", "2000", "--test-limit", "500"]) == 0
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert fast.params_of(archive.read_metrics(tmp_path / "model")).use_morphemes
    assert morphemes.kiwi_step(joblib.load(tmp_path / "model" / FAST_MODEL_FILE)) is not None
    assert morphemes.cache_file(tmp_path / "cache").exists()


def test_an_archive_is_stale_when_missing_or_older_than_what_it_is_built_from(tmp_path, fast_model_dir):
    store = ModelStore(tmp_path / "store")
    dest = store.archive_path("fast")
    assert archive.is_stale("fast", fast_model_dir, dest)  # missing
    archive.publish("fast", fast_model_dir, store)
    assert not archive.is_stale("fast", fast_model_dir, dest)
    later = time.time() + 60
    os.utime(fast_model_dir / FAST_MODEL_FILE, (later, later))  # retrained after the archive was built
    try:
        assert archive.is_stale("fast", fast_model_dir, dest)
    finally:
        os.utime(fast_model_dir / FAST_MODEL_FILE, None)


def test_every_models_metrics_have_created_and_data_blob_ids(tmp_path):
    """The registry records `created` and `data_blob_ids` (and /models shows them) for both models:
    BERT trainings recorded them as `date` and `data.blob_ids`, as the committed model still does."""
    bert = archive.read_metrics(get_settings().models_dir / MODELS[ACCURATE].source_dir)
    assert bert["created"] == bert["date"] and bert["data_blob_ids"] == bert["data"]["blob_ids"]
    assert set(bert["data_blob_ids"]) == {"train", "test"}
    fast_style = {"created": "2024-01-01T00:00:00+00:00", "data_blob_ids": {"train": "a"}, "date": "other"}
    assert archive.common_metrics(fast_style) == fast_style  # never overwritten
    assert archive.common_metrics({}) == {}
