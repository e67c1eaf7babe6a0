"""Build TorchServe model archives (.mar) with torch-model-archiver, and publish them to the store.

    python -m train.archive fast [--model-dir models/fast] [--version 1]
    python -m train.archive accurate [--model-dir models/nsmc_bert] [--version 1]
    python -m train.archive all --if-stale      (what `make archive` runs)

Hub models: `python -m train.hub_model <id> <dir>` saves one locally first (needs the network).
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from core.models import HANDLERS_DIR, MODELS, ModelName
from core.settings import get_settings
from core.store import ModelStore
from handlers.artifacts import METRICS_FILE, ONNX_FILE

log = logging.getLogger(__name__)


class ArchiveError(RuntimeError):
    pass


def _archiver() -> str:
    beside_python = Path(sys.executable).with_name("torch-model-archiver")
    return str(beside_python) if beside_python.exists() else "torch-model-archiver"


def default_model_dir(model: ModelName) -> Path:
    return get_settings().models_dir / MODELS[model].source_dir


def _add_accurate_parts(stage: Path, model_dir: Path) -> None:
    """The int8 ONNX export (for `runtime: onnx`)."""
    from train.export_onnx import export_onnx  # imports torch: only when archiving BERT

    export_onnx(model_dir, stage / ONNX_FILE)


def build_archive(model: ModelName, model_dir: Path, dest: Path, version: str = "1", overwrite: bool = False) -> Path:
    """Package `model_dir` with the handlers package into `dest` (a .mar path)."""
    spec = MODELS[model]
    model_dir = Path(model_dir)
    if not (model_dir / spec.required_file).is_file():
        raise ArchiveError(f"{model_dir / spec.required_file} is missing: train the {model} model first")
    if dest.exists() and not overwrite:
        raise ArchiveError(f"{dest} exists; archives are never overwritten silently")
    with tempfile.TemporaryDirectory() as tmp:
        stage, export = Path(tmp) / "stage", Path(tmp) / "export"
        export.mkdir()
        # The handler imports `handlers.*`: ship the package itself at the archive root.
        shutil.copytree(HANDLERS_DIR, stage / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
        for item in model_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, stage / item.name)
        if model == "accurate":
            _add_accurate_parts(stage, model_dir)
        command = [
            _archiver(), "--model-name", spec.name, "--version", version,
            "--handler", str(spec.handler_path), "--extra-files", str(stage),
            "--config-file", str(spec.model_config),
            "--export-path", str(export), "--archive-format", "default",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ArchiveError(f"torch-model-archiver failed: {result.stderr.strip() or result.stdout.strip()}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(export / f"{spec.name}.mar"), dest)
    log.info("built %s (%.1f MB)", dest, dest.stat().st_size / 1e6)
    return dest


def common_metrics(metrics: dict) -> dict:
    """`metrics` with the keys every model's metrics share, whichever trainer wrote them: `created`
    and `data_blob_ids` (the registry records these, and /models shows them). BERT trainings before
    these keys recorded them as `date` and `data.blob_ids`."""
    metrics = dict(metrics)
    if "created" not in metrics and "date" in metrics:
        metrics["created"] = metrics["date"]
    data = metrics.get("data")
    if "data_blob_ids" not in metrics and isinstance(data, dict) and "blob_ids" in data:
        metrics["data_blob_ids"] = data["blob_ids"]
    return metrics


def read_metrics(model_dir: Path) -> dict:
    """A model directory's metrics.json ({} when it has none), with the common keys."""
    path = Path(model_dir) / METRICS_FILE
    return common_metrics(json.loads(path.read_text())) if path.exists() else {}


def archived_metrics(mar: Path) -> dict:
    """The metrics.json a .mar was built with ({} when it has none), with the common keys."""
    with zipfile.ZipFile(mar) as archive:
        return common_metrics(json.loads(archive.read(METRICS_FILE))) if METRICS_FILE in archive.namelist() else {}


def publish(model: ModelName, model_dir: Path, store: ModelStore, version: str = "1", overwrite: bool = False) -> Path:
    """Build the default archive (<model>.mar) and record it in the registry (served if nothing is yet)."""
    from train import reference  # loads the handlers (torch): only when publishing

    dest = build_archive(model, model_dir, store.archive_path(model), version, overwrite)
    info = {**read_metrics(model_dir), "reference": reference.of_archive(model, dest, store)}
    store.add_version(model, version, dest.name, info, serve_if_none=True)
    return dest


def inputs(model: ModelName, model_dir: Path) -> list[Path]:
    """Everything an archive is built from: a newer one makes the archive stale."""
    spec = MODELS[model]
    return [p for p in Path(model_dir).iterdir() if p.is_file()] + list(HANDLERS_DIR.glob("*.py")) + [spec.model_config]


def is_stale(model: ModelName, model_dir: Path, archive: Path) -> bool:
    if not archive.exists():
        return True
    built = archive.stat().st_mtime
    return any(p.exists() and p.stat().st_mtime > built for p in inputs(model, model_dir))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=[*sorted(MODELS), "all"])
    parser.add_argument("--model-dir", type=Path, help="trained model directory (default: models/<its directory>)")
    parser.add_argument("--version", default="1")
    parser.add_argument("--force", action="store_true", help="replace an existing archive")
    parser.add_argument("--if-stale", action="store_true",
                        help="build only archives that are missing or older than what they are built from, and "
                             "skip models that were never trained")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    store = ModelStore(get_settings().model_store)
    for model in (MODELS if args.model == "all" else [args.model]):
        model_dir = args.model_dir or default_model_dir(model)
        if args.if_stale:
            if not (model_dir / MODELS[model].required_file).is_file():
                print(f"{model}: no trained model in {model_dir}; not archived")
                continue
            if not is_stale(model, model_dir, store.archive_path(model)):
                print(f"{model}: {store.archive_path(model).name} is up to date")
                continue
        try:
            print(publish(model, model_dir, store, version=args.version, overwrite=args.force or args.if_stale))
        except ArchiveError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
