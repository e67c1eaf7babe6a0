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
    best = {"accuracy": -1.0}
    best_state = None
    evals = []
    started = time.perf_counter()
    eval_seconds = 0.0
    tokens_seen, ema_loss = 0, None
    labels_dev = dev.labels

    def evaluate() -> None:
        nonlocal best, best_state, eval_seconds
        t0 = time.perf_counter()
        probs = positive_probs(model, dev, pad_id, precision, device=device)
        row = {
            "step": schedule.step_no,
            "epoch": schedule.step_no / steps_per_epoch,
            "dev_accuracy": accuracy(probs, labels_dev),
            "dev_log_loss": log_loss(probs, labels_dev),
            "train_loss_ema": ema_loss,
        }
        evals.append(row)
        eval_seconds += time.perf_counter() - t0
        improved = row["dev_accuracy"] > best["accuracy"]
        if improved:
            best = {"accuracy": row["dev_accuracy"], "log_loss": row["dev_log_loss"], "step": row["step"], "epoch": row["epoch"]}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log.info("dev @ step %d (epoch %.2f): accuracy %.4f  log-loss %.4f%s  [%.0fs]",
                 row["step"], row["epoch"], row["dev_accuracy"], row["dev_log_loss"],
                 "  *best*" if improved else "", time.perf_counter() - t0)
        tuner.start()  # evaluation time is not training throughput

    model.train()
    bar = progress(total_steps, "fine-tune")
    tuner.start()
    while not schedule.done:
        batches = bucketed_batches(train.lengths, recipe.batch_size, shuffle=True, rng=rng)
        for _, ids, mask, labels in iterate(train, batches, pad_id, device):
            with autocast(precision, device):
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            real_tokens = int(mask.sum())
            tokens_seen += real_tokens
            tuner.record(real_tokens)
            ema_loss = loss.item() if ema_loss is None else 0.98 * ema_loss + 0.02 * loss.item()
            bar.update(1)
            if schedule.step_no % 50 == 0:
                train_time = time.perf_counter() - started - eval_seconds
                bar.set_postfix(loss=f"{ema_loss:.3f}", lr=f"{schedule.lr:.2e}",
                                tok_s=f"{tokens_seen / train_time:.0f}", thr=tuner.threads, refresh=False)
            if schedule.step_no % 500 == 0:
                elapsed = time.perf_counter() - started
                train_time = elapsed - eval_seconds
                p = schedule.progress
                log.info(
                    "fine-tune step %d/%d  loss %.3f  lr %.2e  %.0f tokens/s  %.1f reviews/s  threads %d  "
                    "elapsed %.1f min  ETA %.1f min",
                    schedule.step_no, total_steps, ema_loss, schedule.lr, tokens_seen / train_time,
                    schedule.step_no * recipe.batch_size / train_time, tuner.threads, elapsed / 60,
                    elapsed * (1 - p) / max(p, 1e-9) / 60,
                )
            if schedule.done:
                break
            if schedule.step_no % eval_every == 0 and total_steps - schedule.step_no >= eval_every // 2:
                evaluate()
    bar.close()
    evaluate()  # always score the final, fully decayed weights
    if schedule.time_bound:
        log.warning("fine-tuning stopped by its %.1f-minute cap at step %d of %d", recipe.max_minutes, schedule.step_no, total_steps)
    model.load_state_dict(best_state)
    log.info("best dev accuracy %.4f at step %d (epoch %.2f)", best["accuracy"], best["step"], best["epoch"])
    seconds = time.perf_counter() - started
    return {
        "steps": schedule.step_no,
        "planned_steps": total_steps,
        "epochs_done": schedule.step_no / steps_per_epoch,
        "time_capped": schedule.time_bound,
        "tokens_per_s": tokens_seen / max(seconds - eval_seconds, 1e-9),
        "reviews_per_s": schedule.step_no * recipe.batch_size / max(seconds - eval_seconds, 1e-9),
        "best": best,
        "dev_evals": evals,
        "eval_seconds": eval_seconds,
        "seconds": seconds,
    }
