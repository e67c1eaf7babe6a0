from handlers.text import clean_text


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
