"""Build TorchServe model archives (.mar) with torch-model-archiver.

    python -m train.archive fast [--model-dir models/nsmc_fast] [--version 1.0]
    python -m train.archive bert [--model-dir models/nsmc_bert] [--version 1.0]
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from train import settings

log = logging.getLogger(__name__)
HANDLERS_DIR = settings.PROJECT_ROOT / "handlers"
MODEL_CONFIG_DIR = settings.PROJECT_ROOT / "model_config"


class ArchiveError(RuntimeError):
    pass


@dataclass(frozen=True)
class ArchiveKind:
    model_name: str
    handler: str
    required_file: str  # a file whose absence means the model was never trained


KINDS = {
    "fast": ArchiveKind(settings.FAST_MODEL_NAME, "nb_handler.py", "model.joblib"),
    "bert": ArchiveKind(settings.ACCURATE_MODEL_NAME, "bert_handler.py", "config.json"),
}


def archive_path(kind: str, version: str | None = None, store: Path = settings.MODEL_STORE) -> Path:
    """archives/<model>.mar for the default build, archives/<model>.v<version>.mar for rollouts."""
    name = KINDS[kind].model_name
    return store / (f"{name}.mar" if version is None else f"{name}.v{version}.mar")


def _archiver() -> str:
    beside_python = Path(sys.executable).with_name("torch-model-archiver")
    return str(beside_python) if beside_python.exists() else "torch-model-archiver"


DEFAULT_FAST_MODEL = settings.MODELS_DIR / settings.FAST_MODEL_NAME / "model.joblib"


def _add_blend_partner(stage: Path, fast_model: Path) -> None:
    """A blended BERT archive also carries the fast model it was blended with (see train/blend.py)."""
    if not fast_model.is_file():
        raise ArchiveError(f"{fast_model} is missing: the blended BERT archive needs the fast model (make train-fast)")
    shutil.copy2(fast_model, stage / "fast_model.joblib")


def build_archive(kind: str, model_dir: Path, dest: Path, version: str = "1", overwrite: bool = False,
                  fast_model: Path = DEFAULT_FAST_MODEL) -> Path:
    """Package `model_dir` with the handlers package into `dest` (a .mar path)."""
    spec = KINDS[kind]
    model_dir = Path(model_dir)
    if not (model_dir / spec.required_file).is_file():
        raise ArchiveError(f"{model_dir / spec.required_file} is missing: train the {kind} model first")
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
        if kind == "bert":
            from handlers.bert_handler import ONNX_FILE  # imports torch: only when archiving BERT
            from train.export_onnx import export_onnx

            export_onnx(model_dir, stage / ONNX_FILE)  # for `runtime: onnx` in the model config
            if (model_dir / "blend.json").exists():
                _add_blend_partner(stage, fast_model)
        command = [
            _archiver(), "--model-name", spec.model_name, "--version", version,
            "--handler", str(HANDLERS_DIR / spec.handler), "--extra-files", str(stage),
            "--config-file", str(MODEL_CONFIG_DIR / f"{spec.model_name}.yaml"),
            "--export-path", str(export), "--archive-format", "default",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ArchiveError(f"torch-model-archiver failed: {result.stderr.strip() or result.stdout.strip()}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(export / f"{spec.model_name}.mar"), dest)
    log.info("built %s (%.1f MB)", dest, dest.stat().st_size / 1e6)
    return dest


def publish(kind: str, model_dir: Path, store: Path = settings.MODEL_STORE, version: str = "1",
            overwrite: bool = False, fast_model: Path = DEFAULT_FAST_MODEL) -> Path:
    """Build archives/<model>.mar and record it in the registry (served if nothing is yet)."""
    from deploy.registry import Registry, record_archive

    dest = build_archive(kind, model_dir, archive_path(kind, store=store), version, overwrite, fast_model)
    metrics_file = Path(model_dir) / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    name = KINDS[kind].model_name
    record_archive(store, name, version, dest.name, metrics, serve=Registry(store).serving(name) is None)
    return dest


def fetch_hub_model(model_id: str, dest: Path) -> Path:
    """Save a Hugging Face hub classifier (e.g. sackoh/bert-base-multilingual-cased-nsmc) locally."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(model_id).save_pretrained(dest)
        AutoModelForSequenceClassification.from_pretrained(model_id).save_pretrained(dest)
    except OSError as exc:
        raise ArchiveError(f"{model_id} is neither a local directory nor a reachable hub model ({exc}); "
                           f"online, unset HF_HUB_OFFLINE") from exc
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--model-dir", help="trained model directory, or (bert) a hub model id (default: models/<model name>)")
    parser.add_argument("--version", default="1")
    parser.add_argument("--force", action="store_true", help="replace an existing archive")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    model_dir = Path(args.model_dir) if args.model_dir else settings.MODELS_DIR / KINDS[args.kind].model_name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.kind == "bert" and args.model_dir and not model_dir.is_dir():
                model_dir = fetch_hub_model(args.model_dir, Path(tmp))
            print(publish(args.kind, model_dir, version=args.version, overwrite=args.force))
    except ArchiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
