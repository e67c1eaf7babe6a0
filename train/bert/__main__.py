"""python -m train.bert: WordPiece -> MLM pretraining -> fine-tuning -> full-test evaluation -> export.

Defaults are the CPU recipe (about 107 minutes on 2 idle CPU cores; other work on the cores
means fewer steps inside the time caps, not a longer run). It runs on a CUDA GPU when one is
visible (--device); the shipped model's longer recipe is `make train-bert-gpu`. A quick smoke run:
    python -m train.bert --train-limit 2000 --test-limit 500 --mlm-epochs 1 --epochs 1 --out /tmp/bert_smoke
"""
from __future__ import annotations

from train.bert import runtime  # first: sets OMP_WAIT_POLICY before torch is imported

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer, BertConfig, BertForMaskedLM, BertForSequenceClassification, PreTrainedTokenizerFast,
)

from core.clock import now  # noqa: E402
from core.models import ACCURATE, MODELS  # noqa: E402
from core.settings import get_settings  # noqa: E402
from train.data import NSMC_FILES  # noqa: E402
from train.bert import export  # noqa: E402
from train.bert.batching import Encoded, encode  # noqa: E402
from train.bert.corpus import Corpus, load_corpus  # noqa: E402
from train.bert.finetune import FineTuneRecipe, classifier_from_mlm, finetune  # noqa: E402
from train.bert.modeling import bert_config, param_count, seed_everything  # noqa: E402
from train.bert.predict import accuracy, log_loss, positive_probs  # noqa: E402
from train.bert.pretrain import MLMRecipe, pretrain  # noqa: E402
from train.bert.tokenizer import save_and_reload, token_stats, train_tokenizer  # noqa: E402

log = logging.getLogger("train.bert")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.bert", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data and output")
    g.add_argument("--data-dir", default=None, help="directory with ratings_{train,test}.txt (default: $NSMC_DIR)")
    g.add_argument("--out", type=Path, default=get_settings().models_dir / MODELS[ACCURATE].source_dir)
    g.add_argument("--eval-dir", type=Path, default=None, help="dev/test probabilities (default: OUT + '_eval')")
    g.add_argument("--train-limit", type=int, default=None, help="stratified subset of NSMC train (quick runs)")
    g.add_argument("--test-limit", type=int, default=None, help="stratified subset of NSMC test (quick runs)")
    g.add_argument("--seed", type=int, default=42)
    g = p.add_argument_group("tokenizer and model")
    g.add_argument("--vocab-size", type=int, default=10000)
    g.add_argument("--max-length", type=int, default=128)
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--intermediate", type=int, default=512,
                   help="FFN width; 512 instead of 4x256 measured 1.4x faster per token")
    g = p.add_argument_group("masked-LM pretraining")
    g.add_argument("--mlm-epochs", type=float, default=14.0, help="0 skips pretraining")
    g.add_argument("--mlm-batch-size", type=int, default=128,
                   help="128 measured 1.2x the tokens/s of 64 on 2 cores")
    g.add_argument("--mlm-lr", type=float, default=7e-4)
    g.add_argument("--mlm-warmup", type=float, default=0.05, help="fraction of the stage")
    g.add_argument("--mask-rate", type=float, default=0.2)
    g.add_argument("--no-whole-word", action="store_true", help="mask single WordPiece tokens")
    g.add_argument("--mlm-dropout", type=float, default=0.0)
    g.add_argument("--mlm-max-minutes", type=float, default=80.0, help="time cap (0: none); the lr schedule follows it")
    g.add_argument("--save-mlm", type=Path, default=None,
                   help="also save the pretrained BertForMaskedLM and its tokenizer here (fp32)")
    g.add_argument("--from-mlm", type=Path, default=None,
                   help="skip tokenizer training and pretraining: fine-tune a --save-mlm directory, whose "
                        "architecture wins over --vocab-size/--hidden/... "
                        "(keep its --seed, so the dev split is the one its pretraining left out)")
    g.add_argument("--resume-mlm", action="store_true",
                   help="with --from-mlm: first continue masked-LM pretraining with the --mlm-* recipe "
                        "(new optimizer, warm-up and decay), then fine-tune")
    g = p.add_argument_group("fine-tuning")
    g.add_argument("--epochs", type=float, default=4.0)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--lr", type=float, default=2e-4)
    g.add_argument("--warmup", type=float, default=0.06, help="fraction of the stage")
    g.add_argument("--weight-decay", type=float, default=0.01)
    g.add_argument("--dropout", type=float, default=0.1)
    g.add_argument("--evals-per-epoch", type=int, default=2)
    g.add_argument("--ft-max-minutes", type=float, default=25.0, help="time cap (0: none); the lr schedule follows it")
    g = p.add_argument_group("runtime")
    g.add_argument("--device", default="auto", help="auto (a CUDA GPU if there is one, else the CPU), cpu, cuda, cuda:N")
    g.add_argument("--threads", default="auto", help="torch threads: 1, 2 or auto (re-measured while training)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="auto = bf16 autocast on a GPU, and on CPUs only with native bf16")
    g.add_argument("--weights-dtype", choices=("fp16", "fp32"), default="fp16", help="dtype of the shipped weights")
    g.add_argument("--max-size-mb", type=float, default=30.0, help="fail if the shipped directory is larger")
    args = p.parse_args(argv)
    if args.from_mlm and not (args.from_mlm / "config.json").is_file():
        p.error(f"--from-mlm {args.from_mlm}: no config.json there (make one with --save-mlm)")
    if args.resume_mlm and not args.from_mlm:
        p.error("--resume-mlm needs --from-mlm DIR")
    try:
        args.device = runtime.choose_device(args.device)
    except (RuntimeError, ValueError) as err:  # torch says RuntimeError for an unknown device string
        p.error(f"--device {args.device}: {err}")
    return args


def command_line(argv: list[str]) -> str:
    """The command as run, with the environment variables that change what it reads."""
    return " ".join(
        [f"{k}={shlex.quote(os.environ[k])}" for k in ("NSMC_DIR", "HF_HUB_OFFLINE") if k in os.environ]
        + ["python -m train.bert"] + [shlex.quote(a) for a in argv]
    )


@dataclass
class Run:
    """One run's options and runtime, and the seconds each of its stages took."""
    args: argparse.Namespace
    command: str
    precision: str
    tuner: runtime.ThreadTuner
    times: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def device(self) -> torch.device:
        return self.args.device

    @property
    def out_dir(self) -> Path:
        return self.args.out

    @property
    def eval_dir(self) -> Path:
        return self.args.eval_dir or self.out_dir.with_name(self.out_dir.name + "_eval")

    @contextmanager
    def timed(self, stage: str):
        t0 = time.perf_counter()
        yield
        self.times[stage] = time.perf_counter() - t0


@dataclass(frozen=True)
class Tokenized:
    """The tokenizer, its token statistics on dev, and the three splits encoded with it."""
    tokenizer: PreTrainedTokenizerFast
    dev_stats: dict[str, float]
    train: Encoded
    dev: Encoded
    test: Encoded


def tokenize(args: argparse.Namespace, corpus: Corpus) -> Tokenized:
    """--from-mlm's tokenizer, else a WordPiece trained on train; either is saved in --out."""
    if args.from_mlm:
        tokenizer = save_and_reload(AutoTokenizer.from_pretrained(args.from_mlm, local_files_only=True), args.out)
        log.info("tokenizer and MLM encoder from %s", args.from_mlm)
    else:
        tokenizer = train_tokenizer(corpus.train.texts, args.vocab_size, args.out, args.max_length)
    dev_stats = token_stats(tokenizer, corpus.dev.texts)
    train, dev, test = (encode(tokenizer, part.texts, args.max_length, part.labels)
                        for part in (corpus.train, corpus.dev, corpus.test))
    return Tokenized(tokenizer, dev_stats, train, dev, test)


def mlm_stage(run: Run, data: Tokenized, recipe: MLMRecipe) -> tuple[BertForMaskedLM | None, BertConfig, dict | None]:
    """The masked-LM model the classifier starts from (None: a fresh encoder), its config, and the
    stage's summary: --from-mlm's model, pretrained further with --resume-mlm, else a new one
    pretrained for --mlm-epochs (0: none)."""
    args, tokenizer = run.args, data.tokenizer
    config = bert_config(len(tokenizer), tokenizer.pad_token_id, hidden=args.hidden, layers=args.layers,
                         heads=args.heads, intermediate=args.intermediate, max_positions=args.max_length,
                         dropout=args.mlm_dropout, attention_dropout=args.mlm_dropout)
    summary = None
    mlm_model = None
    if args.from_mlm:
        mlm_model = BertForMaskedLM.from_pretrained(args.from_mlm, local_files_only=True, dtype=torch.float32)
        config = mlm_model.config
        summary = {"from": str(args.from_mlm)}
    if (args.resume_mlm or not args.from_mlm) and args.mlm_epochs > 0:
        mlm_model = (mlm_model or BertForMaskedLM(config)).to(run.device)
        log.info("BertForMaskedLM: %.2fM parameters%s", param_count(mlm_model) / 1e6,
                 f", continued from {args.from_mlm}" if args.from_mlm else "")
        held_out = Encoded(data.dev.ids[:3000])  # dev text, labels unused
        summary = {**(summary or {}),
                   **pretrain(mlm_model, tokenizer, data.train, held_out, recipe, run.precision, run.tuner, args.seed,
                              run.device)}
        if args.save_mlm:
            mlm_model.save_pretrained(args.save_mlm)
            tokenizer.save_pretrained(args.save_mlm)
            log.info("saved the pretrained MLM model and tokenizer to %s", args.save_mlm)
    return mlm_model, config, summary


@dataclass(frozen=True)
class Scores:
    """P(positive) on dev and test, and the accuracy of each."""
    dev_probs: np.ndarray
    test_probs: np.ndarray
    dev_accuracy: float
    test_accuracy: float


def evaluate(model: BertForSequenceClassification, data: Tokenized, precision: str) -> Scores:
    dev_probs = positive_probs(model, data.dev, data.tokenizer.pad_token_id, precision)
    test_probs = positive_probs(model, data.test, data.tokenizer.pad_token_id, precision)
    return Scores(dev_probs, test_probs, accuracy(dev_probs, data.dev.labels), accuracy(test_probs, data.test.labels))


def save(run: Run, model: BertForSequenceClassification, data: Tokenized, corpus: Corpus, scores: Scores) -> float:
    """The shipped directory (--out) and the dev/test probabilities (the eval dir); returns the largest
    probability difference between the model and the saved one reloaded."""
    pad_id = data.tokenizer.pad_token_id
    export.save_model_dir(model, data.tokenizer, run.out_dir, run.args.weights_dtype)
    reload_diff = export.check_reload(run.out_dir, data.tokenizer, model, Encoded(data.dev.ids[:1000]), pad_id)
    export.save_eval_arrays(run.eval_dir, scores.dev_probs, corpus.dev.rows, corpus.dev.labels, scores.test_probs,
                            corpus.test.rows, corpus.test.labels,
                            {"model_dir": str(run.out_dir), "dev_accuracy": scores.dev_accuracy,
                             "test_accuracy": scores.test_accuracy})
    return reload_diff


def metrics_of(run: Run, model: BertForSequenceClassification, data: Tokenized, scores: Scores, stages: dict,
               reload_diff: float) -> dict:
    """metrics.json. `stages`: {"mlm": ..., "finetune": ...}, each stage's recipe and summary."""
    args, cfg = run.args, model.config
    created, data_blob_ids = now(), {split: blob for split, (_, blob) in NSMC_FILES.items()}
    return {
        "model": MODELS[ACCURATE].source_dir,
        "test_accuracy": scores.test_accuracy,
        "test_log_loss": log_loss(scores.test_probs, data.test.labels),
        "test_rows": len(data.test),
        "dev_accuracy": scores.dev_accuracy,
        "dev_log_loss": log_loss(scores.dev_probs, data.dev.labels),
        "dev_rows": len(data.dev),
        "train_rows": len(data.train),
        "selection": "best dev accuracy over fine-tuning evaluations; test used only for the final score",
        "model_config": {
            "architecture": "BertForSequenceClassification", "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.hidden_size, "num_hidden_layers": cfg.num_hidden_layers,
            "num_attention_heads": cfg.num_attention_heads, "intermediate_size": cfg.intermediate_size,
            "max_position_embeddings": cfg.max_position_embeddings, "max_length": args.max_length,
            "id2label": {str(k): v for k, v in cfg.id2label.items()}, "weights_dtype": args.weights_dtype,
        },
        "param_count": param_count(model),
        "model_dir_bytes": export.dir_size(run.out_dir),
        "tokenizer": {"type": "WordPiece (tokenizers), BERT normalizer without accent stripping/lower-casing",
                      "vocab_size": len(data.tokenizer), "dev_mean_tokens": data.dev_stats["mean_tokens"],
                      "dev_unk_rate": data.dev_stats["unk_rate"], "trained_on": "clean_text(NSMC train minus dev)"},
        "mlm": stages["mlm"],
        "finetune": stages["finetune"],
        "reload_max_prob_diff": reload_diff,
        "seconds": run.times,
        "precision": run.precision,
        "device": runtime.describe_device(run.device),
        "threads": {"setting": args.threads, "history_step_threads": run.tuner.history},
        "seed": args.seed,
        "data": {"dir": str(args.data_dir or get_settings().nsmc_dir or ""),
                 "blob_ids": data_blob_ids,
                 "files": {k: v[0] for k, v in NSMC_FILES.items()},
                 "train_limit": args.train_limit, "test_limit": args.test_limit},
        "eval_dir": str(run.eval_dir),
        "versions": export.library_versions(),
        "date": created,  # the first name of `created`, kept for older readers
        "created": created,
        "data_blob_ids": data_blob_ids,  # the same keys as the fast model's metrics (train/fast.py)
        "command": run.command,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runtime.setup_logging()
    command = command_line(sys.argv[1:] if argv is None else argv)
    log.info("command: %s", command)
    seed_everything(args.seed)
    run = Run(args, command, runtime.choose_precision(args.precision, args.device), runtime.ThreadTuner(args.threads))
    log.info("device %s, precision %s, threads %s (candidates %s), OMP_WAIT_POLICY=%s",
             runtime.describe_device(run.device), run.precision, args.threads, run.tuner.candidates,
             os.environ.get("OMP_WAIT_POLICY"))

    with run.timed("data"):
        corpus = load_corpus(args.data_dir, args.train_limit, args.test_limit, args.seed)
    with run.timed("tokenizer"):
        data = tokenize(args, corpus)
    log.info("tokenizer: %d tokens, dev mean %.1f tokens/review (with [CLS]/[SEP]), [UNK] rate %.4f%%, %.0fs",
             len(data.tokenizer), data.dev_stats["mean_tokens"], 100 * data.dev_stats["unk_rate"],
             run.times["tokenizer"])

    mlm_recipe = MLMRecipe(epochs=args.mlm_epochs, batch_size=args.mlm_batch_size, lr=args.mlm_lr,
                           warmup=args.mlm_warmup, mask_rate=args.mask_rate, whole_word=not args.no_whole_word,
                           max_minutes=args.mlm_max_minutes)
    with run.timed("mlm"):
        mlm_model, config, mlm_summary = mlm_stage(run, data, mlm_recipe)
    ft_recipe = FineTuneRecipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                               weight_decay=args.weight_decay, dropout=args.dropout,
                               evals_per_epoch=args.evals_per_epoch, max_minutes=args.ft_max_minutes)
    with run.timed("finetune"):
        model = classifier_from_mlm(mlm_model, config, args.dropout).to(run.device)
        del mlm_model
        ft_summary = finetune(model, data.train, data.dev, data.tokenizer.pad_token_id, ft_recipe, run.precision,
                              run.tuner, args.seed, run.device)

    with run.timed("test_eval"):
        scores = evaluate(model, data, run.precision)
    model.to("cpu")  # export and the reload check run where the handler will: on the CPU
    log.info("TEST accuracy %.4f on %d reviews (dev %.4f), %.0fs", scores.test_accuracy, len(data.test),
             scores.dev_accuracy, run.times["test_eval"])
    with run.timed("export"):
        reload_diff = save(run, model, data, corpus, scores)
    run.times["total"] = time.perf_counter() - run.started

    stages = {"mlm": {"recipe": vars(mlm_recipe), "summary": mlm_summary},
              "finetune": {"recipe": vars(ft_recipe), "summary": ft_summary}}
    export.write_metrics(run.out_dir, metrics_of(run, model, data, scores, stages, reload_diff))
    size = export.dir_size(run.out_dir)
    log.info("done in %.1f min: test accuracy %.4f, dev %.4f, %s = %.1f MB", run.times["total"] / 60,
             scores.test_accuracy, scores.dev_accuracy, run.out_dir, size / 1e6)
    if size > args.max_size_mb * 1e6:
        log.error("%s is %.1f MB, over the %.0f MB limit", run.out_dir, size / 1e6, args.max_size_mb)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
