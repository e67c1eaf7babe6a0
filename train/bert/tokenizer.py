"""Train a WordPiece vocabulary on cleaned NSMC train text and save it in Hugging Face layout."""
from __future__ import annotations

import logging
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

log = logging.getLogger(__name__)

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]  # ids 0..4 in this order


def build_wordpiece(texts: list[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """A BERT-style WordPiece `tokenizers.Tokenizer` trained on already-cleaned texts.

    The normalizer must not strip accents: BERT's accent stripping NFD-decomposes Hangul
    syllables into jamo. clean_text has already lower-cased and NFKC-normalized the text.
    """
    tok = Tokenizer(models.WordPiece(unk_token=UNK, max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    cls_id, sep_id = tok.token_to_id(CLS), tok.token_to_id(SEP)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def wrap(tok: Tokenizer, model_max_length: int) -> PreTrainedTokenizerFast:
    """The transformers wrapper with the special tokens declared (BertTokenizerFast(vocab_file=...)
    in transformers 5.x silently yields a 5-token vocabulary, so it is not used)."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=UNK,
        pad_token=PAD,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def save_and_reload(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> PreTrainedTokenizerFast:
    """save_pretrained, then reload through AutoTokenizer (offline) and check nothing was lost."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    reloaded = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    probe = "이 영화 진짜 재밌다 ㅋㅋㅋ 강추!!"
    if len(reloaded) != len(tokenizer) or reloaded.vocab_size != tokenizer.vocab_size:
        raise RuntimeError(
            f"tokenizer reloaded from {out_dir} has {len(reloaded)} tokens, expected {len(tokenizer)}"
        )
    if reloaded(probe)["input_ids"] != tokenizer(probe)["input_ids"]:
        raise RuntimeError(f"tokenizer reloaded from {out_dir} encodes differently")
    for name in ("pad", "unk", "cls", "sep", "mask"):
        if getattr(reloaded, f"{name}_token_id") != getattr(tokenizer, f"{name}_token_id"):
            raise RuntimeError(f"tokenizer reloaded from {out_dir} lost its {name} token")
    return reloaded


def train_tokenizer(
    texts: list[str], vocab_size: int, out_dir: Path, model_max_length: int
) -> PreTrainedTokenizerFast:
    """Train, wrap, save to out_dir, check the AutoTokenizer reload and return the tokenizer."""
    tok = build_wordpiece(texts, vocab_size)
    wrapped = wrap(tok, model_max_length)
    save_and_reload(wrapped, out_dir)
    log.info("WordPiece vocabulary: %d tokens (asked for %d), saved to %s", len(wrapped), vocab_size, out_dir)
    return wrapped


def token_stats(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> dict[str, float]:
    """Mean length (with [CLS]/[SEP]) and [UNK] rate of texts under this tokenizer."""
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    n_tokens = sum(len(x) for x in ids)
    unk = tokenizer.unk_token_id
    n_unk = sum(t == unk for x in ids for t in x)
    return {"mean_tokens": n_tokens / max(len(ids), 1), "unk_rate": n_unk / max(n_tokens, 1)}
