"""Fine-tune BertForSequenceClassification from the MLM encoder; select the best dev checkpoint."""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

from train.bert.batching import Encoded, bucketed_batches, iterate
from train.bert.modeling import OptimizerRecipe, adamw, autocast
from train.bert.predict import accuracy, log_loss, positive_probs
from train.bert.runtime import ThreadTuner, TimedSchedule, progress

log = logging.getLogger(__name__)


@dataclass
class FineTuneRecipe(OptimizerRecipe):
    epochs: float = 2.5
    lr: float = 2e-4
    dropout: float = 0.1
    evals_per_epoch: int = 2


def classifier_from_mlm(mlm: BertForMaskedLM | None, config: BertConfig, dropout: float) -> BertForSequenceClassification:
    """A classifier whose encoder and embeddings are the MLM model's (pooler and head are new)."""
    config = copy.deepcopy(config)
    config.hidden_dropout_prob = dropout
    config.attention_probs_dropout_prob = 0.0  # measured: attention dropout costs ~10% step time on CPU
    model = BertForSequenceClassification(config)
    if mlm is not None:
        missing, unexpected = model.bert.load_state_dict(mlm.bert.state_dict(), strict=False)
        if unexpected or any(not k.startswith("pooler.") for k in missing):
            raise RuntimeError(f"MLM encoder does not fit the classifier: missing {missing}, unexpected {unexpected}")
        log.info("classifier initialised from the MLM encoder (new: pooler, classifier head)")
    return model


class _BestOnDev:
    """Scores dev now and then; keeps every score, and a copy of the weights that scored best."""

    def __init__(self, model: BertForSequenceClassification, dev: Encoded, pad_id: int, precision: str,
                 device: torch.device | str, steps_per_epoch: int, tuner: ThreadTuner):
        self.model, self.dev, self.pad_id, self.precision, self.device = model, dev, pad_id, precision, device
        self.steps_per_epoch, self.tuner = steps_per_epoch, tuner
        self.best: dict = {"accuracy": -1.0}
        self.best_state: dict | None = None
        self.evals: list[dict] = []
        self.seconds = 0.0

    def evaluate(self, step: int, train_loss_ema: float | None) -> None:
        t0 = time.perf_counter()
        probs = positive_probs(self.model, self.dev, self.pad_id, self.precision, device=self.device)
        row = {
            "step": step,
            "epoch": step / self.steps_per_epoch,
            "dev_accuracy": accuracy(probs, self.dev.labels),
            "dev_log_loss": log_loss(probs, self.dev.labels),
            "train_loss_ema": train_loss_ema,
        }
        self.evals.append(row)
        self.seconds += time.perf_counter() - t0
        improved = row["dev_accuracy"] > self.best["accuracy"]
        if improved:
            self.best = {"accuracy": row["dev_accuracy"], "log_loss": row["dev_log_loss"], "step": row["step"],
                         "epoch": row["epoch"]}
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        log.info("dev @ step %d (epoch %.2f): accuracy %.4f  log-loss %.4f%s  [%.0fs]",
                 row["step"], row["epoch"], row["dev_accuracy"], row["dev_log_loss"],
                 "  *best*" if improved else "", time.perf_counter() - t0)
        self.tuner.start()  # evaluation time is not training throughput

    def restore_best(self) -> None:
        self.model.load_state_dict(self.best_state)
        log.info("best dev accuracy %.4f at step %d (epoch %.2f)", self.best["accuracy"], self.best["step"],
                 self.best["epoch"])


class _Throughput:
    """The training loss's moving average and tokens/s (dev evaluations left out), on the progress
    bar every 50 steps and in the log every 500."""

    def __init__(self, total_steps: int, batch_size: int, tuner: ThreadTuner):
        self.total_steps, self.batch_size, self.tuner = total_steps, batch_size, tuner
        self.started = time.perf_counter()
        self.tokens = 0
        self.ema_loss: float | None = None
        self.bar = progress(total_steps, "fine-tune")

    def record(self, schedule: TimedSchedule, loss: float, tokens: int, eval_seconds: float) -> None:
        self.tokens += tokens
        self.tuner.record(tokens)
        self.ema_loss = loss if self.ema_loss is None else 0.98 * self.ema_loss + 0.02 * loss
        self.bar.update(1)
        if schedule.step_no % 50 == 0:
            train_time = time.perf_counter() - self.started - eval_seconds
            self.bar.set_postfix(loss=f"{self.ema_loss:.3f}", lr=f"{schedule.lr:.2e}",
                                 tok_s=f"{self.tokens / train_time:.0f}", thr=self.tuner.threads, refresh=False)
        if schedule.step_no % 500 == 0:
            elapsed = time.perf_counter() - self.started
            train_time = elapsed - eval_seconds
            p = schedule.progress
            log.info(
                "fine-tune step %d/%d  loss %.3f  lr %.2e  %.0f tokens/s  %.1f reviews/s  threads %d  "
                "elapsed %.1f min  ETA %.1f min",
                schedule.step_no, self.total_steps, self.ema_loss, schedule.lr, self.tokens / train_time,
                schedule.step_no * self.batch_size / train_time, self.tuner.threads, elapsed / 60,
                elapsed * (1 - p) / max(p, 1e-9) / 60,
            )


def _train_step(model: BertForSequenceClassification, optimizer: torch.optim.Optimizer, schedule: TimedSchedule,
                ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, precision: str,
                device: torch.device | str, grad_clip: float) -> float:
    """One optimizer step on one batch; the batch's loss."""
    with autocast(precision, device):
        logits = model(input_ids=ids, attention_mask=mask).logits
    loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    schedule.step()
    return loss.item()


def finetune(
    model: BertForSequenceClassification,
    train: Encoded,
    dev: Encoded,
    pad_id: int,
    recipe: FineTuneRecipe,
    precision: str,
    tuner: ThreadTuner,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict:
    """Train in place, evaluating on dev `evals_per_epoch` times per epoch; loads the best-dev
    weights back into `model` (already on `device`) at the end. Test data is never seen here."""
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    total_steps = max(1, math.ceil(recipe.epochs * steps_per_epoch))
    eval_every = max(1, steps_per_epoch // max(recipe.evals_per_epoch, 1))
    optimizer = adamw(model, recipe.lr, recipe.weight_decay)
    schedule = TimedSchedule(
        optimizer, total_steps, recipe.warmup, recipe.max_minutes * 60 if recipe.max_minutes else None
    )
    rng = np.random.default_rng(seed + 1)
    log.info(
        "fine-tune: %d texts, %d steps (%.2f epochs x %d) of %d, peak lr %g, dropout %.2f, dev eval every %d steps, "
        "cap %s min", len(train), total_steps, recipe.epochs, steps_per_epoch, recipe.batch_size, recipe.lr,
        recipe.dropout, eval_every, recipe.max_minutes,
    )
    selection = _BestOnDev(model, dev, pad_id, precision, device, steps_per_epoch, tuner)
    model.train()
    meter = _Throughput(total_steps, recipe.batch_size, tuner)
    tuner.start()
    while not schedule.done:
        batches = bucketed_batches(train.lengths, recipe.batch_size, shuffle=True, rng=rng)
        for _, ids, mask, labels in iterate(train, batches, pad_id, device):
            loss = _train_step(model, optimizer, schedule, ids, mask, labels, precision, device, recipe.grad_clip)
            meter.record(schedule, loss, int(mask.sum()), selection.seconds)
            if schedule.done:
                break
            if schedule.step_no % eval_every == 0 and total_steps - schedule.step_no >= eval_every // 2:
                selection.evaluate(schedule.step_no, meter.ema_loss)
    meter.bar.close()
    selection.evaluate(schedule.step_no, meter.ema_loss)  # always score the final, fully decayed weights
    if schedule.time_bound:
        log.warning("fine-tuning stopped by its %.1f-minute cap at step %d of %d", recipe.max_minutes, schedule.step_no, total_steps)
    selection.restore_best()
    seconds = time.perf_counter() - meter.started
    train_seconds = max(seconds - selection.seconds, 1e-9)
    return {
        "steps": schedule.step_no,
        "planned_steps": total_steps,
        "epochs_done": schedule.step_no / steps_per_epoch,
        "time_capped": schedule.time_bound,
        "tokens_per_s": meter.tokens / train_seconds,
        "reviews_per_s": schedule.step_no * recipe.batch_size / train_seconds,
        "best": selection.best,
        "dev_evals": selection.evals,
        "eval_seconds": selection.seconds,
        "seconds": seconds,
    }
