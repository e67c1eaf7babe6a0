import re
import sys

from handlers.text import clean_text, not_blank_pattern


def test_normalizes_width_case_and_whitespace():
    assert clean_text("  ＡＢＣ  영화\t\n최고 ") == "abc 영화 최고"


def test_squeezes_long_repeats_to_three():
    assert clean_text("ㅋㅋㅋㅋㅋㅋㅋ 재밌다!!!!!!") == "ㅋㅋㅋ 재밌다!!!"
    assert clean_text("ㅋㅋㅋ") == "ㅋㅋㅋ"


def test_composes_decomposed_hangul():
    decomposed = "\u1100\u1161\u11a8"  # 각 as conjoining jamo
    assert clean_text(decomposed) == "각"


def test_empty_stays_empty():
    assert clean_text("   ") == ""


def test_offsets_point_back_into_the_text_as_sent():
    from handlers.text import clean_text_with_offsets

    for text in ("  ＡＢＣ  영화\t\n최고 ", "ㅋㅋㅋㅋㅋㅋㅋ 재밌다!!!!!!", "최고의   영화", "", "   ", "\u1100\u1161\u11a8 좋다"):
        cleaned, offsets = clean_text_with_offsets(text)
        assert cleaned == clean_text(text) and len(offsets) == len(cleaned)
        assert offsets == sorted(offsets) and all(0 <= o < len(text) for o in offsets)
    cleaned, offsets = clean_text_with_offsets("  ＡＢＣ  영화")
    assert [cleaned[k] for k in range(len(cleaned))] == list("abc 영화")
    assert offsets == [2, 3, 4, 5, 7, 8]  # the space keeps the first of the run it stands for


def test_not_blank_is_what_clean_text_keeps_in_every_engine():
    pattern = not_blank_pattern()
    assert "\\s" not in pattern.lower()  # no shorthand class: its meaning differs between regex engines
    not_blank = re.compile(pattern)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (not_blank.search(char) is None) == (clean_text(char) == ""), hex(code)
