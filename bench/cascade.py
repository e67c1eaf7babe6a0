"""The `auto` cascade: the fast model answers every review it is sure of; a review whose fast
confidence max(p, 1-p) is below a threshold t goes on to the accurate model, whose answer is used.

    python -m bench.cascade [--data-dir DIR] [--out docs/]

1. DEV probabilities (the dev split of train: train_dev_split, 10%, seed 42). Fast: the fast recipe
   fitted on train minus dev (train.blend.fast_dev_probs, cached). BERT alone: the accurate handler
   loaded from its archive (`bert_positive`, ONNX int8 as served). Accurate: w * P_bert + (1 - w) *
   P_fast with w from the archive's blend.json; the fast part is the train-minus-dev model, because
   the served fast model has seen dev.
2. Sweep t over [0.5, 1.0] on dev and pick it by one rule: the smallest share sent on whose dev
   accuracy is within `--tolerance` (0.1 point) of the accurate path's dev accuracy.
3. TEST probabilities as served (the fast archive's `predict_positive`, and the accurate archive's
   BERT blended with those, as the gateway passes them on) and the full 50,000-review test figures
   for the chosen t, plus the test curve (for the report only).
4. Expected calibration error of fast, accurate and auto on test; reliability diagram and curve
   plots; `<out>/cascade.json`.

Routing: a text is sent on when confidence(P_fast) < t; t = 1.0 sends everything (the accurate path),
t = 0.5 nothing (the fast path). The pure functions (routing, sweep, rule, ECE) come first and touch
no model or file; tests/test_cascade.py covers them.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from train.inprocess import load_archive
from core.models import ACCURATE, FAST, MODELS
from core.settings import get_settings
from core.store import ModelStore
from handlers.accurate_handler import AccurateHandler
from handlers.fast_handler import FastHandler
from handlers.text import clean_text
from train.bert.predict import accuracy
from train.archive import archived_metrics
from train.blend import fast_dev_cached, fast_dev_probs
from train.data import load_split, train_dev_split
from train.fast import params_of as fast_params_of

TOLERANCE = 0.001  # 0.1 accuracy point
ECE_BINS = 15
SWEEP_STEP = 0.001
JSON_CURVE_STEP = 0.01
PRINT_CURVE_STEP = 0.025


# ---- pure functions ------------------------------------------------------------------------------

def confidence(positive: np.ndarray) -> np.ndarray:
    """Confidence of the returned label: max(p, 1 - p)."""
    positive = np.asarray(positive, dtype=np.float64)
    return np.maximum(positive, 1.0 - positive)


def predicted(positive: np.ndarray) -> np.ndarray:
    """The returned label, as the handlers decide it (positive when p >= 0.5)."""
    return (np.asarray(positive) >= 0.5).astype(np.int64)


def sent_on(fast: np.ndarray, threshold: float) -> np.ndarray:
    """Which texts go on to the accurate model: fast confidence below t; t >= 1.0 sends every text."""
    if threshold >= 1.0:
        return np.ones(np.shape(fast), dtype=bool)
    return confidence(fast) < threshold


def auto_positive(fast: np.ndarray, accurate: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(P(positive) the auto mode returns, which texts were sent on)."""
    sent = sent_on(fast, threshold)
    return np.where(sent, np.asarray(accurate, dtype=np.float64), np.asarray(fast, dtype=np.float64)), sent


def thresholds(step: float = SWEEP_STEP) -> np.ndarray:
    count = int(round(0.5 / step))
    return np.round(np.linspace(0.5, 1.0, count + 1), 6)


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    share_sent: float
    accuracy: float


def sweep(fast: np.ndarray, accurate: np.ndarray, labels: np.ndarray, ts: np.ndarray) -> list[CurvePoint]:
    """Share sent on and auto accuracy for each threshold."""
    labels = np.asarray(labels)
    fast_right = predicted(fast) == labels
    accurate_right = predicted(accurate) == labels
    points = []
    for t in ts:
        sent = sent_on(fast, float(t))
        right = np.where(sent, accurate_right, fast_right)
        points.append(CurvePoint(float(t), float(sent.mean()), float(right.mean())))
    return points


def choose_threshold(curve: list[CurvePoint], target_accuracy: float,
                     tolerance: float = TOLERANCE) -> tuple[CurvePoint, bool]:
    """The point with the smallest share sent on whose accuracy >= target - tolerance (ties: the
    higher accuracy, then the lower threshold), and True; when none qualifies, sending everything
    (t = 1.0, share 1.0, the target's accuracy) and False."""
    floor = target_accuracy - tolerance - 1e-12  # float noise must not reject an exact tie
    meeting = [p for p in curve if p.accuracy >= floor]
    if not meeting:
        everything = [p for p in curve if p.threshold >= 1.0]
        return (everything[0] if everything else CurvePoint(1.0, 1.0, target_accuracy)), False
    return min(meeting, key=lambda p: (p.share_sent, -p.accuracy, p.threshold)), True


@dataclass(frozen=True)
class Reliability:
    edges: np.ndarray  # n_bins + 1
    counts: np.ndarray
    mean_confidence: np.ndarray  # NaN where a bin is empty
    accuracy: np.ndarray  # NaN where a bin is empty
    ece: float


def reliability(positive: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS, low: float = 0.5) -> Reliability:
    """Equal-width bins over [low, 1] of the returned label's confidence; ECE = sum over bins of
    (count / N) * |bin accuracy - bin mean confidence|. Bins are [a, b), the last one [a, 1]."""
    conf = confidence(positive)
    right = predicted(positive) == np.asarray(labels)
    edges = np.linspace(low, 1.0, n_bins + 1)
    index = np.clip(np.floor((conf - low) / (1.0 - low) * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=n_bins) / counts
        bin_acc = np.bincount(index, weights=right.astype(np.float64), minlength=n_bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] / counts.sum() * np.abs(bin_acc[filled] - mean_conf[filled])))
    return Reliability(edges, counts, mean_conf, bin_acc, ece)


def expected_calibration_error(positive: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS,
                               low: float = 0.5) -> float:
    return reliability(positive, labels, n_bins, low).ece


def coarse(curve: list[CurvePoint], step: float) -> list[CurvePoint]:
    """The points whose threshold is 0.5 plus a multiple of step."""
    def on_grid(t: float) -> bool:
        k = (t - 0.5) / step
        return abs(k - round(k)) < 1e-6
    return [p for p in curve if on_grid(p.threshold)]


# ---- I/O: data, archives, caches -----------------------------------------------------------------

def _archive_key(archive: Path, rows: int) -> dict:
    stat = archive.stat()
    return {"archive": str(archive), "bytes": stat.st_size, "mtime": stat.st_mtime, "rows": rows}


def cached(path: Path, key: dict, compute, refresh: bool) -> tuple[np.ndarray, bool, float]:
    """(array, came from cache, seconds): `path` (.npy) is reused when its sidecar .json matches key."""
    meta = path.with_suffix(".json")
    if not refresh and path.exists() and meta.exists() and json.loads(meta.read_text()) == key:
        return np.load(path), True, 0.0
    started = time.perf_counter()
    values = np.asarray(compute(), dtype=np.float64)
    seconds = time.perf_counter() - started
    np.save(path, values)
    meta.write_text(json.dumps(key) + "\n")
    return values, False, seconds


# ---- plots -----------------------------------------------------------------------------------------

def plot_reliability(diagrams: dict[str, Reliability], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, len(diagrams), figsize=(4.2 * len(diagrams), 5.2), dpi=100, sharex=True,
                             gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
    for col, (name, r) in enumerate(diagrams.items()):
        top, bottom = axes[0, col], axes[1, col]
        centers, width = (r.edges[:-1] + r.edges[1:]) / 2, np.diff(r.edges)
        filled = r.counts > 0
        top.bar(centers[filled], r.accuracy[filled], width=width[filled], color="#4c72b0", edgecolor="white",
                linewidth=0.5, label="bin accuracy")
        top.plot([0.5, 1.0], [0.5, 1.0], "--", color="gray", linewidth=1, label="perfect calibration")
        top.plot(r.mean_confidence[filled], r.accuracy[filled], "o", color="#dd8452", markersize=3,
                 label="(mean confidence, accuracy)")
        top.set_xlim(0.5, 1.0)
        top.set_ylim(0.3, 1.0)
        top.set_title(f"{name}: ECE {100 * r.ece:.2f} pts", fontsize=10)
        top.grid(alpha=0.3)
        if col == 0:
            top.set_ylabel("accuracy")
            top.legend(fontsize=7, loc="upper left")
        bottom.bar(centers, np.maximum(r.counts, 0.8), width=width, color="#8c8c8c", edgecolor="white",
                   linewidth=0.5)
        bottom.set_yscale("log")
        bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        bottom.tick_params(axis="y", labelsize=8)
        bottom.set_xlabel("confidence of the returned label")
        if col == 0:
            bottom.set_ylabel("count")
        bottom.grid(alpha=0.3)
    fig.suptitle(f"Reliability on NSMC test ({int(next(iter(diagrams.values())).counts.sum()):,} reviews, "
                 f"{len(next(iter(diagrams.values())).counts)} bins)", fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.88, bottom=0.11, wspace=0.18)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curve(dev: list[CurvePoint], test: list[CurvePoint], chosen: float, accurate: dict, fast: dict,
               tolerance: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for curve, name, style in ((dev, "dev", "-"), (test, "test", "--")):
        t = [p.threshold for p in curve]
        left.plot(t, [100 * p.share_sent for p in curve], style, label=name)
        right.plot(t, [100 * p.accuracy for p in curve], style, label=f"auto, {name}")
    colors = {"dev": "C0", "test": "C1"}
    for split in ("dev", "test"):
        right.axhline(100 * accurate[split], color=colors[split], linestyle=":", linewidth=1,
                      label=f"accurate path, {split}")
        right.axhline(100 * fast[split], color=colors[split], linestyle="-.", linewidth=0.8, alpha=0.6,
                      label=f"fast path, {split}")
    right.axhspan(100 * (accurate["dev"] - tolerance), 100 * accurate["dev"], color="C0", alpha=0.12,
                  label=f"dev tolerance ({100 * tolerance:.1f} pt)")
    for ax in (left, right):
        ax.axvline(chosen, color="black", linewidth=1)
        ax.set_xlabel("threshold t on fast confidence max(p, 1-p)")
        ax.set_xlim(0.5, 1.0)
        ax.grid(alpha=0.3)
    left.text(chosen + 0.005, 5, f"t = {chosen:.3f}", fontsize=9)
    left.set_ylabel("% of reviews sent on to the accurate model")
    left.set_ylim(0, 100)
    left.legend(fontsize=8, loc="upper left")
    left.set_title("share sent on", fontsize=10)
    right.set_ylabel("accuracy (%)")
    low = 100 * min(fast["dev"], fast["test"]) - 0.3
    high = max(accurate["dev"], accurate["test"], *(p.accuracy for p in dev + test))
    right.set_ylim(low, 100 * high + 0.3)
    right.legend(fontsize=7, loc="lower right", ncol=2)
    right.set_title("auto accuracy", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- the run -------------------------------------------------------------------------------------

def _r(x: float, digits: int = 5) -> float:
    return round(float(x), digits)


def figures(fast: np.ndarray, accurate: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    auto, sent = auto_positive(fast, accurate, threshold)
    return {"rows": int(len(labels)), "fast_accuracy": _r(accuracy(fast, labels)),
            "accurate_accuracy": _r(accuracy(accurate, labels)), "auto_accuracy": _r(accuracy(auto, labels)),
            "share_sent_on": _r(sent.mean()), "sent_on_rows": int(sent.sum())}


def curve_rows(curve: list[CurvePoint]) -> list[dict]:
    return [{"threshold": _r(p.threshold, 4), "share_sent_on": _r(p.share_sent), "accuracy": _r(p.accuracy)}
            for p in curve]


def print_curve(dev: list[CurvePoint], test: list[CurvePoint], chosen: float) -> None:
    keep = {p.threshold for p in coarse(dev, PRINT_CURVE_STEP)} | {chosen}
    print(f"{'t':>6} | {'dev sent':>8} {'dev acc':>8} | {'test sent':>9} {'test acc':>8}")
    for d, t in zip(dev, test):
        if d.threshold in keep:
            mark = "  <- chosen" if d.threshold == chosen else ""
            print(f"{d.threshold:6.3f} | {100 * d.share_sent:7.2f}% {100 * d.accuracy:7.3f}% | "
                  f"{100 * t.share_sent:8.2f}% {100 * t.accuracy:7.3f}%{mark}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    settings = get_settings()
    store = ModelStore(settings.model_store)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs and cascade.json go")
    parser.add_argument("--fast-archive", type=Path, default=store.archive_path(FAST))
    parser.add_argument("--accurate-archive", type=Path, default=store.archive_path(ACCURATE))
    parser.add_argument("--eval-dir", type=Path, default=settings.models_dir / f"{MODELS[ACCURATE].source_dir}_eval",
                        help="probability caches (train.blend's fast_dev_probs.npy lives here)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="accuracy the auto mode may lose on dev")
    parser.add_argument("--refresh", action="store_true", help="recompute the archive-scored caches")
    args = parser.parse_args(argv)
    for archive in (args.fast_archive, args.accurate_archive):
        if not archive.is_file():
            parser.error(f"{archive} does not exist: `make archive` builds it")
    return args


@dataclass
class Run:
    """The run's options, and what the report says of it: where each array came from, and how long
    each step took."""
    args: argparse.Namespace
    timings: dict = field(default_factory=dict)
    from_cache: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def served(self, name: str, archive: Path, rows: int, compute, timing: str) -> np.ndarray:
        """`compute`'s probabilities, cached as <eval-dir>/<name>_probs_served.npy for this archive."""
        values, self.from_cache[name], seconds = cached(
            self.args.eval_dir / f"{name}_probs_served.npy", _archive_key(archive, rows), compute, self.args.refresh)
        self.timings[timing] = _r(seconds, 1)
        return values


@dataclass(frozen=True)
class Scores:
    """P(positive) of each path on dev and test, and the blend the accurate path is made of."""
    dev_labels: np.ndarray
    fast_dev: np.ndarray
    bert_dev: np.ndarray
    test_labels: np.ndarray
    fast_test: np.ndarray
    accurate_test: np.ndarray
    weight: float
    blend_info: dict
    runtime: str

    @property
    def accurate_dev(self) -> np.ndarray:
        return self.weight * self.bert_dev + (1.0 - self.weight) * self.fast_dev


def fast_on_dev(run: Run, dev) -> np.ndarray:
    """The archived fast recipe refitted on train minus dev, scoring dev (train.blend's cache)."""
    args = run.args
    fast_cache = args.eval_dir / "fast_dev_probs.npy"
    recipe = fast_params_of(archived_metrics(args.fast_archive))  # the archived model's, refitted on train minus dev
    run.from_cache["fast_dev"] = fast_dev_cached(fast_cache, recipe)
    started = time.perf_counter()
    print(f"fast on dev: {'cached ' + str(fast_cache) if run.from_cache['fast_dev'] else 'fitting train minus dev'}",
          flush=True)
    fast_dev = np.asarray(fast_dev_probs(args.data_dir, fast_cache, recipe), dtype=np.float64)
    run.timings["fast_dev_fit_and_score_s"] = _r(time.perf_counter() - started, 1)
    if len(fast_dev) != len(dev):
        raise SystemExit(f"{fast_cache} has {len(fast_dev)} rows, dev has {len(dev)}: delete it and rerun")
    return fast_dev


def fast_on_test(run: Run, test_texts: list[str]) -> np.ndarray:
    """The fast archive's P(positive) on test, as served; the archive is loaded only to fill the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        print(f"fast (served) on test ({len(test_texts):,} reviews)", flush=True)

        def score_fast() -> np.ndarray:
            return load_archive(FastHandler(), run.args.fast_archive, Path(tmp)).predict_positive(test_texts)

        return run.served("fast_test", run.args.fast_archive, len(test_texts), score_fast,
                          "fast_test_load_and_score_s")


def score(run: Run) -> Scores:
    """Dev and test probabilities: fast on dev refitted without dev, the rest from the archives as
    served; on test the accurate path is BERT blended with the fast archive's P(positive), as the
    gateway sends it (core/scoring.py)."""
    args = run.args
    _, dev = train_dev_split(load_split("train", args.data_dir))
    fast_dev = fast_on_dev(run, dev)
    dev_texts = [clean_text(t) for t in dev.texts]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        accurate_handler = load_archive(AccurateHandler(), args.accurate_archive, Path(tmp))
        run.timings["accurate_handler_load_s"] = _r(time.perf_counter() - started, 1)
        weight = float(accurate_handler.bert_weight)
        blend_file = Path(tmp) / "blend.json"
        blend_info = json.loads(blend_file.read_text()) if blend_file.exists() else {"bert_weight": weight}
        runtime = type(accurate_handler.logits).__name__
        print(f"BERT on dev ({len(dev):,} reviews, {runtime}); blend weight w = {weight}", flush=True)
        bert_dev = run.served("bert_dev", args.accurate_archive, len(dev),
                              functools.partial(accurate_handler.bert_positive, dev_texts), "bert_dev_score_s")

        test = load_split("test", args.data_dir)
        test_texts = [clean_text(t) for t in test.texts]
        print(f"BERT (served) on test ({len(test):,} reviews)", flush=True)
        bert_test = run.served("bert_test", args.accurate_archive, len(test),
                               functools.partial(accurate_handler.bert_positive, test_texts), "bert_test_score_s")
        fast_test = fast_on_test(run, test_texts)
        accurate_test = accurate_handler.blend(bert_test, fast_test)
        del accurate_handler
    return Scores(np.asarray(dev.labels), fast_dev, bert_dev, np.asarray(test.labels), fast_test, accurate_test,
                  weight, blend_info, runtime)


@dataclass(frozen=True)
class Rule:
    """The threshold the rule chose on dev, and the curves it was chosen from and checked against."""
    dev_curve: list[CurvePoint]
    test_curve: list[CurvePoint]
    chosen: CurvePoint
    met: bool
    accurate_dev_accuracy: float

    @property
    def threshold(self) -> float:
        return self.chosen.threshold


def choose_on_dev(scores: Scores, tolerance: float) -> Rule:
    ts = thresholds()
    dev_curve = sweep(scores.fast_dev, scores.accurate_dev, scores.dev_labels, ts)
    accurate_dev_accuracy = accuracy(scores.accurate_dev, scores.dev_labels)
    chosen, met = choose_threshold(dev_curve, accurate_dev_accuracy, tolerance)
    test_curve = sweep(scores.fast_test, scores.accurate_test, scores.test_labels, ts)
    return Rule(dev_curve, test_curve, chosen, met, accurate_dev_accuracy)


def calibration(scores: Scores, threshold: float) -> tuple[dict[str, Reliability], dict]:
    """The reliability diagram of each path on test, and each one's ECE (bins over [0.5, 1] and [0, 1])."""
    auto_test, _ = auto_positive(scores.fast_test, scores.accurate_test, threshold)
    paths = {"fast": scores.fast_test, "accurate": scores.accurate_test, f"auto (t = {threshold:.3f})": auto_test}
    diagrams = {name: reliability(p, scores.test_labels) for name, p in paths.items()}
    ece = {name.split(" ")[0]: {"ece": _r(diagrams[name].ece),
                                "ece_bins_over_0_1": _r(expected_calibration_error(p, scores.test_labels, low=0.0))}
           for name, p in paths.items()}
    return diagrams, ece


def plot(out: Path, scores: Scores, rule: Rule, diagrams: dict[str, Reliability], tolerance: float) -> None:
    plot_reliability(diagrams, out / "reliability.png")
    plot_curve(rule.dev_curve, rule.test_curve, rule.threshold,
               {"dev": rule.accurate_dev_accuracy, "test": accuracy(scores.accurate_test, scores.test_labels)},
               {"dev": accuracy(scores.fast_dev, scores.dev_labels),
                "test": accuracy(scores.fast_test, scores.test_labels)},
               tolerance, out / "auto_curve.png")


def build_report(argv: list[str], run: Run, scores: Scores, rule: Rule, diagrams: dict[str, Reliability],
                 ece: dict) -> dict:
    """cascade.json's content."""
    args, t = run.args, rule.threshold
    dev_figures = figures(scores.fast_dev, scores.accurate_dev, scores.dev_labels, t)
    dev_figures["bert_alone_accuracy"] = _r(accuracy(scores.bert_dev, scores.dev_labels))
    test_reference, _ = choose_threshold(rule.test_curve, accuracy(scores.accurate_test, scores.test_labels),
                                         args.tolerance)
    return {
        "command": " ".join(["python", "-m", "bench.cascade", *argv]),
        "routing": "fast scores every review; a review with max(p_fast, 1 - p_fast) < t is sent on and gets "
                   "the accurate path's answer (t = 1.0: every review)",
        "threshold": _r(t, 4),
        "rule": {"chosen_on": "dev split of train (train_dev_split: 10%, seed 42)",
                 "statement": f"smallest share sent on with dev auto accuracy >= dev accurate accuracy - "
                              f"{args.tolerance} (swept t = 0.5..1.0, step {SWEEP_STEP})",
                 "tolerance": args.tolerance, "met": rule.met,
                 "dev_accuracy_floor": _r(rule.accurate_dev_accuracy - args.tolerance)},
        "blend": {"bert_weight": scores.weight, "from": f"{args.accurate_archive.name}:blend.json",
                  "blend_json": scores.blend_info,
                  "dev_fast_part": "fast recipe fitted on train minus dev (train.blend.fast_dev_probs); "
                                   "the served fast model has seen dev",
                  "test_fast_part": f"{args.fast_archive.name}, as the gateway sends it"},
        "bert_runtime": scores.runtime,
        "dev": dev_figures,
        "test": figures(scores.fast_test, scores.accurate_test, scores.test_labels, t),
        "test_rule_reference": {"note": "the same rule applied on test, for comparison only (not used)",
                                "threshold": _r(test_reference.threshold, 4),
                                "share_sent_on": _r(test_reference.share_sent),
                                "accuracy": _r(test_reference.accuracy)},
        "ece_test": {"bins": ECE_BINS, "binning": "equal width over [0.5, 1] of max(p, 1-p), weighted by bin "
                                                  "counts; ece_bins_over_0_1: the same with bins over [0, 1]",
                     **ece},
        "reliability_test": {name.split(" ")[0]: {"counts": r.counts.tolist(),
                                                  "accuracy": [None if np.isnan(a) else _r(a) for a in r.accuracy],
                                                  "mean_confidence": [None if np.isnan(c) else _r(c)
                                                                      for c in r.mean_confidence]}
                             for name, r in diagrams.items()},
        "curves": {"step": JSON_CURVE_STEP, "dev": curve_rows(coarse(rule.dev_curve, JSON_CURVE_STEP)),
                   "test": curve_rows(coarse(rule.test_curve, JSON_CURVE_STEP))},
        "plots": [str(args.out / "reliability.png"), str(args.out / "auto_curve.png")],
        "caches": {"dir": str(args.eval_dir), "from_cache": run.from_cache},
        "timings": run.timings,
        "cpu_cores": os.cpu_count(),
    }


def print_summary(out: Path, rule: Rule, report: dict) -> None:
    """The curve around the chosen threshold, and the report's figures."""
    tolerance = report["rule"]["tolerance"]
    print()
    print_curve(rule.dev_curve, rule.test_curve, rule.threshold)
    print()
    print(f"threshold t = {rule.threshold:.3f} (dev: smallest share sent on with accuracy >= "
          f"{100 * rule.accurate_dev_accuracy:.3f}% - {100 * tolerance:.1f} pt"
          f"{'' if rule.met else '; none did: all sent'})")
    print(f"{'':6} | {'fast':>8} {'accurate':>9} {'auto':>8} | sent on")
    for name in ("dev", "test"):
        f = report[name]
        print(f"{name:6} | {100 * f['fast_accuracy']:7.3f}% {100 * f['accurate_accuracy']:8.3f}% "
              f"{100 * f['auto_accuracy']:7.3f}% | {100 * f['share_sent_on']:.2f}% ({f['sent_on_rows']:,} of "
              f"{f['rows']:,})")
    print("ECE on test (15 bins over [0.5, 1]): " +
          ", ".join(f"{k} {100 * v['ece']:.2f} pts" for k, v in report["ece_test"].items() if isinstance(v, dict)))
    print(f"wrote {out / 'cascade.json'}, {out / 'reliability.png'}, {out / 'auto_curve.png'} "
          f"in {report['timings']['total_s']:.0f} s")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    run = Run(parse_args(argv))
    out = run.args.out
    run.args.eval_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    scores = score(run)
    rule = choose_on_dev(scores, run.args.tolerance)
    diagrams, ece = calibration(scores, rule.threshold)
    plot(out, scores, rule, diagrams, run.args.tolerance)
    run.timings["total_s"] = _r(time.perf_counter() - run.started, 1)
    report = build_report(argv, run, scores, rule, diagrams, ece)
    (out / "cascade.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_summary(out, rule, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
