"""TorchServe handler for any Hugging Face BERT-family sequence classifier directory.

The directory (packed into the .mar) holds `config.json`, weights and tokenizer files, loaded
offline with the Auto* classes. Labels come from `config.id2label`.

Optional blend: when the archive also carries `blend.json` ({"bert_weight": w, ...}, chosen on dev
by train/blend.py) and `fast_model.joblib`, the answer is w * P_bert + (1 - w) * P_fast.
"""
import json
import logging
import os

import numpy as np
import torch

from handlers.base import SentimentHandler
from handlers.fast_model import FastScorer

log = logging.getLogger(__name__)
MAX_TOKENS = 128
MODEL_BATCH = 64  # texts per forward pass; each pass is padded only to its own longest text
BLEND_FILE = "blend.json"
BLEND_FAST_MODEL = "fast_model.joblib"


def positive_index(id2label: dict) -> int:
    """Which output is 'positive': by name when the config says so, else NSMC's order (1)."""
    names = {int(i): str(name).lower() for i, name in id2label.items()}
    for i, name in names.items():
        if name in ("positive", "pos", "긍정"):
            return i
    if len(names) != 2:
        raise ValueError(f"expected a binary classifier, got labels {names}")
    log.warning("id2label %s names no 'positive'; using index 1 as NSMC does", names)
    return 1


def quantize_int8(model):
    """Dynamic int8 quantization of the Linear layers (weights int8, activations quantized per batch)."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks the quantized-tensor API deprecated; it still works
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class BertSentimentHandler(SentimentHandler):
    def load_model(self, model_dir, properties):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        gpu_id = properties.get("gpu_id")
        use_gpu = torch.cuda.is_available() and gpu_id is not None
        self.device = torch.device(f"cuda:{gpu_id}" if use_gpu else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, local_files_only=True, dtype=torch.float32)
        self.model = model.to(self.device).eval()
        if self.handler_config.get("quantize") == "int8" and self.device.type == "cpu":
            self.model = quantize_int8(self.model)
        self.positive_index = positive_index(self.model.config.id2label)
        self.bert_weight, self.fast_score = 1.0, None
        blend, fast_model = os.path.join(model_dir, BLEND_FILE), os.path.join(model_dir, BLEND_FAST_MODEL)
        if os.path.exists(blend) and os.path.exists(fast_model):
            with open(blend) as f:
                self.bert_weight = float(json.load(f)["bert_weight"])
            self.fast_score = FastScorer(fast_model)
            log.info("blending: %.3f * BERT + %.3f * fast model", self.bert_weight, 1 - self.bert_weight)

    def predict_positive(self, texts):
        positive = self.bert_positive(texts)
        if self.fast_score is not None and self.bert_weight < 1.0:
            positive = self.bert_weight * positive + (1.0 - self.bert_weight) * self.fast_score(texts)
        return positive

    @torch.inference_mode()
    def bert_positive(self, texts):
        # Sorting by length keeps each forward pass's padding small.
        order = np.argsort([len(t) for t in texts], kind="stable")
        positive = np.empty(len(texts), dtype=np.float64)
        for start in range(0, len(texts), MODEL_BATCH):
            chunk = order[start:start + MODEL_BATCH]
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="pt").to(self.device)
            logits = self.model(**encoded).logits.float()
            positive[chunk] = torch.softmax(logits, dim=-1)[:, self.positive_index].cpu().numpy()
        return positive
