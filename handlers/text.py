"""The one text-cleaning function shared by training and serving."""
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# "ㅋㅋㅋㅋㅋㅋ" and "!!!!!!" carry sentiment, but their exact length does not.
_LONG_REPEAT = re.compile(r"(.)\1{2,}")


def clean_text(text: str) -> str:
    """Normalize a review: NFKC, lower-case Latin, squeeze repeats and whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _LONG_REPEAT.sub(r"\1\1\1", text)
    return _WHITESPACE.sub(" ", text).strip()
