"""The one text-cleaning function shared by training and serving."""
import functools
import re
import sys
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


@functools.lru_cache
def not_blank_pattern() -> str:
    """A regex that matches any character clean_text keeps: a text it does not match is blank.

    Spelled as an explicit class of \\u escapes, not as \\S: engines disagree on \\s (ECMA-262's,
    which JSON Schema validators and fuzzers use, leaves out U+0085 and U+001C..U+001F, which
    Python's and Rust's include), and this pattern is both checked by the gateway and published
    in its OpenAPI document."""
    spaces = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]  # what \s+ above squeezes
    ranges, start = [], spaces[0]
    for previous, current in zip(spaces, spaces[1:] + [None]):
        if current is None or current != previous + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{previous:04x}" if previous > start else ""))
            start = current
    return f"[^{''.join(ranges)}]"


def clean_text_with_offsets(text: str) -> tuple[str, list[int]]:
    """clean_text(text), and for each of its characters the index in `text` it came from.

    Explanations are computed on the cleaned text and shown on the text as sent. Each step of
    clean_text is replayed on (character, origin) pairs; when that cannot reproduce clean_text
    exactly (input that NFC recomposes, or case mappings that depend on context), origins are
    spread proportionally instead."""
    cleaned = clean_text(text)
    pairs = [(low, i) for i, char in enumerate(text.translate(_FULL_WIDTH)) for low in char.lower()]
    squeezed, run = [], 0
    for k, (char, origin) in enumerate(pairs):
        run = run + 1 if k and char == pairs[k - 1][0] else 1
        if run <= 3:
            squeezed.append((char, origin))
    spaced = []
    for char, origin in squeezed:
        if char.isspace():
            if spaced and spaced[-1][0] != " ":
                spaced.append((" ", origin))
        else:
            spaced.append((char, origin))
    if spaced and spaced[-1][0] == " ":
        spaced.pop()
    if "".join(c for c, _ in spaced) == cleaned:
        return cleaned, [origin for _, origin in spaced]
    scale = len(text) / max(len(cleaned), 1)
    return cleaned, [min(int(k * scale), len(text) - 1) for k in range(len(cleaned))]
