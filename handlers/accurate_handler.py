"""TorchServe handler for any Hugging Face BERT-family sequence classifier directory.

The directory (packed into the .mar) holds `config.json`, weights and tokenizer files, loaded
offline with the Auto* classes. Labels come from `config.id2label`.

Runtime (the `handler:` section of the archive's model config): eager PyTorch by default, with
`quantize: int8` for dynamic int8 Linear layers; or `runtime: onnx` for ONNX Runtime on the int8
ONNX export that every BERT archive carries (`model.int8.onnx`, train/export_onnx.py). A GPU, when
TorchServe assigns one, always runs PyTorch. `threads: N` caps the worker's intra-op threads.

Optional blend: when the archive carries `blend.json` ({"bert_weight": w, ...}, chosen on dev by
train/blend.py) and the request carries the fast model's probabilities ("fast_positive", which the
gateway already has: core/scoring.py), the answer is w * P_bert + (1 - w) * P_fast. The fast model
is not loaded here (it would double the memory); a text sent without them gets BERT alone.
"""
import json
import logging
import os

import numpy as np
import torch

from handlers.artifacts import BLEND_FILE, ONNX_FILE
from handlers.base import SentimentHandler
from handlers.bert_runtime import OnnxLogits, TorchLogits, softmax

log = logging.getLogger(__name__)
MAX_TOKENS = 128
# Forward passes: texts sorted by length, at most MODEL_BATCH a pass, and a pass's longest text at
# most PADDING_RATIO times its shortest (texts up to SHORT characters go together). Every text is
# padded to its pass's longest, and on CPU that padding was most of the work: fixed passes of 64
# cost 2-3x as much a review in the batches TorchServe forms (docs/models.md: bench.handler_throughput).
MODEL_BATCH = 32
PADDING_RATIO = 1.25
SHORT = 8


def length_passes(lengths) -> list[np.ndarray]:
    """Indices of the texts for each forward pass, by the rule above."""
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    passes, start = [], 0
    for i in range(1, len(order) + 1):
        if (i == len(order) or i - start >= MODEL_BATCH
                or lengths[order[i]] > PADDING_RATIO * max(lengths[order[start]], SHORT)):
            passes.append(order[start:i])
            start = i
    return passes


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


class AccurateHandler(SentimentHandler):
    """BERT (or any BERT-family classifier), optionally blended with the fast model."""

    def load_model(self, model_dir, properties):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.load_tokenizer(model_dir)
        self.logits = self.load_runtime(model_dir, self.device_for(properties))
        log.info("BERT runtime: %s", type(self.logits).__name__)
        self.bert_weight = self.load_blend(model_dir)

    def load_tokenizer(self, model_dir):
        from transformers import AutoConfig, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.positive_index = positive_index(AutoConfig.from_pretrained(model_dir, local_files_only=True).id2label)

    @staticmethod
    def device_for(properties) -> torch.device:
        gpu_id = properties.get("gpu_id")
        return torch.device(f"cuda:{gpu_id}" if torch.cuda.is_available() and gpu_id is not None else "cpu")

    def load_runtime(self, model_dir, device: torch.device):
        """ONNX Runtime on the int8 export (CPU, `runtime: onnx`), else the Hugging Face model."""
        # Several workers share the cores (TorchServe runs both models side by side): one thread
        # each beats every worker spinning up a thread per core.
        threads = self.handler_config.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        self.model = None
        if self.handler_config.get("runtime", "torch") == "onnx" and device.type == "cpu":
            return OnnxLogits(os.path.join(model_dir, ONNX_FILE), threads and int(threads))
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, local_files_only=True, dtype=torch.float32).to(device).eval()
        if self.handler_config.get("quantize") == "int8" and device.type == "cpu":
            model = quantize_int8(model)
        self.model = model
        return TorchLogits(model, device)

    @staticmethod
    def load_blend(model_dir) -> float:
        """BERT's weight in the blend: from blend.json when the archive carries one, else 1.0."""
        blend = os.path.join(model_dir, BLEND_FILE)
        if not os.path.exists(blend):
            return 1.0
        with open(blend) as f:
            weight = float(json.load(f)["bert_weight"])
        log.info("blending: %.3f * BERT + %.3f * the fast model's P(positive) sent with each text", weight, 1 - weight)
        return weight

    def predict_positive(self, texts, fast_positive=None):
        return self.blend(self.bert_positive(texts), fast_positive)

    def blend(self, bert_positive: np.ndarray, fast_positive: np.ndarray | None) -> np.ndarray:
        if fast_positive is None or self.bert_weight >= 1.0:
            return bert_positive
        sent = ~np.isnan(fast_positive)
        blended = bert_positive.copy()
        blended[sent] = self.bert_weight * bert_positive[sent] + (1.0 - self.bert_weight) * fast_positive[sent]
        return blended

    def bert_positive(self, texts):
        positive = np.empty(len(texts), dtype=np.float64)
        for chunk in length_passes([len(t) for t in texts]):
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                                     max_length=MAX_TOKENS, return_tensors="np")
            logits = self.logits(encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64))
            positive[chunk] = softmax(logits.astype(np.float64))[:, self.positive_index]
        return positive
