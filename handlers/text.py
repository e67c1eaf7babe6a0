"""The one text-cleaning function shared by training and serving."""
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# "ㅋㅋㅋㅋㅋㅋ" and "!!!!!!" carry sentiment, but their exact length does not.
_LONG_REPEAT = re.compile(r"(.)\1{3,}")
# Full-width ASCII (U+FF01..U+FF5E) to ASCII. Not NFKC: it would turn the jamo in "ㅋㅋ" into
# conjoining jamo that look alike but tokenize differently.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def clean_text(text: str) -> str:
    """Normalize a review: NFC, ASCII for full-width, lower case, squeezed repeats and whitespace."""
    text = unicodedata.normalize("NFC", text).translate(_FULL_WIDTH).lower()
    text = _LONG_REPEAT.sub(r"\1\1\1", text)
    return _WHITESPACE.sub(" ", text).strip()
