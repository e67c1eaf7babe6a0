"""What `make archive` decides in Python: retrain only when missing, rebuild only what is stale."""
import os
import time

from core.store import ModelStore
from handlers.artifacts import FAST_MODEL_FILE
from train import archive, fast


def test_train_fast_if_missing_keeps_an_existing_model(tmp_path, capsys):
    (tmp_path / FAST_MODEL_FILE).write_bytes(b"trained before")
    assert fast.main(["--out", str(tmp_path), "--if-missing"]) == 0
    assert (tmp_path / FAST_MODEL_FILE).read_bytes() == b"trained before"
    assert "not retraining" in capsys.readouterr().out


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
