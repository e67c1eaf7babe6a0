"""The morpheme analysis of the corpus, cached: Kiwi is most of what retraining costs, and the
corpus is fixed, so /train analyses each text once per analyzer version.

The cache maps a cleaned text to its morphemes; it lives in the NSMC cache directory (it is derived
from the corpus, so it is never committed), in a file named by kiwipiepy's and its model's
versions and the analyzer options: a new analyzer starts a new cache. Texts it lacks are analysed
and added.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import joblib

from handlers.fast_model import KiwiMorphemes

log = logging.getLogger(__name__)


def cache_file(directory: Path) -> Path:
    versions = "-".join(f"{package}{metadata.version(package)}" for package in ("kiwipiepy", "kiwipiepy_model"))
    return Path(directory) / f"morphemes-{versions}-notypo-nomulti.joblib"


def kiwi_step(pipeline) -> KiwiMorphemes | None:
    for _, block in pipeline.named_steps["features"].transformer_list:
        if hasattr(block, "named_steps") and "kiwi" in block.named_steps:
            return block.named_steps["kiwi"]
    return None


@contextmanager
def precomputed(pipeline, texts: list[str], directory: Path):
    """While inside, the pipeline's morpheme step reads every text of `texts` from the cache
    (analysing and saving the ones it lacks); the analyses are dropped on leaving, so they are
    never saved with the model."""
    step = kiwi_step(pipeline)
    if step is None:
        yield
        return
    path = cache_file(directory)
    known: dict[str, str] = joblib.load(path) if path.exists() else {}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        log.info("analysing %d texts with Kiwi (%d cached in %s)", len(missing), len(known), path)
        known.update(zip(missing, step.analyze(missing)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # concurrent trainings never share one
        joblib.dump(known, tmp, compress=3)
        tmp.replace(path)
    step.precomputed = known
    try:
        yield
    finally:
        for each in (step, kiwi_step(pipeline)):  # fitting in another process returns a copy of the step
            each.precomputed = None
            each.__dict__.pop("_kiwi", None)  # frees the training process's analyzer
