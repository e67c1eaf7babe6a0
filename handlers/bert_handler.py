"""TorchServe handler for any Hugging Face BERT-family sequence classifier directory.

The directory (packed into the .mar) holds `config.json`, weights and tokenizer files, loaded
offline with the Auto* classes. Labels come from `config.id2label`.
"""
import logging
import os

import numpy as np
import torch

from handlers.base import SentimentHandler

log = logging.getLogger(__name__)
MAX_TOKENS = 128
MODEL_BATCH = 64  # texts per forward pass; each pass is padded only to its own longest text


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
        self.positive_index = positive_index(self.model.config.id2label)

    @torch.inference_mode()
    def predict_positive(self, texts):
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
