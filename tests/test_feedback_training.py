"""What a /train job makes of the feedback (train/feedback.py) and how it gates (train/gate.py)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from core.feedback import TrainingRow
from train import gate
from train.feedback import Screening, cap_sources, quarantined_ids, share_of


def rows(source: str, n: int, start: int = 0) -> list[TrainingRow]:
    return [TrainingRow(start + i, f"{source} {i}", hashlib.sha256(f"{source} {i}".encode()).hexdigest(), i % 2,
                        source) for i in range(n)]


def test_the_holdout_side_of_a_text_depends_on_its_text_only():
    a, b = rows("x", 200), rows("y", 200)
    assert [share_of(r) for r in a] == [share_of(r) for r in rows("x", 200)]
    held = [r for r in a + b if share_of(r) < 0.2]
    assert 40 < len(held) < 120  # about a fifth of 400


def test_no_source_makes_up_more_than_its_share():
    data = rows("flood", 900, 0) + rows("users", 100, 1000) + rows("mods", 50, 2000)
    kept, dropped = cap_sources(data, max_share=0.5)
    counts = {s: sum(r.source == s for r in kept) for s in ("flood", "users", "mods")}
    assert counts["users"] == 100 and counts["mods"] == 50
    assert counts["flood"] <= 0.5 * len(kept) + 1 and counts["flood"] >= 0.5 * len(kept) - 2
    assert dropped == {"flood": 900 - counts["flood"]}
    assert cap_sources(data, max_share=0.5)[0] == kept  # deterministic


def test_a_single_source_is_used_whole():
    data = rows("only", 300)
    assert cap_sources(data, 0.5) == (data, {})


def test_mcnemar_counts_only_the_texts_one_model_gets_right():
    serving = np.array([True] * 80 + [False] * 20)
    candidate = np.array([True] * 70 + [False] * 10 + [True] * 5 + [False] * 15)
    result = gate.mcnemar(serving, candidate)
    assert (result["serving_only_right"], result["candidate_only_right"]) == (10, 5)
    assert result["serving_accuracy"] == 0.8 and result["candidate_accuracy"] == 0.75
    assert 0.1 < result["p_worse"] < 0.2  # 10 of 15 discordant: not significant


def test_the_gate_refuses_a_version_clearly_worse_on_the_feedback():
    serving = np.ones(300, dtype=bool)
    candidate = np.array([True] * 260 + [False] * 40)
    verdict = gate.judge(0.88, 0.88, 0.5, gate.mcnemar(serving, candidate), min_holdout=100, alpha=0.05)
    assert not verdict["passed"] and verdict["feedback"]["verdict"] == "worse"
    assert "feedback holdout" in verdict["reason"] and verdict["nsmc"]["passed"]


def test_with_little_feedback_the_nsmc_gate_decides_alone():
    small = gate.mcnemar(np.ones(20, dtype=bool), np.zeros(20, dtype=bool))
    verdict = gate.judge(0.88, 0.88, 0.5, small, min_holdout=100, alpha=0.05)
    assert verdict["passed"] and verdict["feedback"]["verdict"] == "insufficient feedback"
    worse_on_nsmc = gate.judge(0.86, 0.88, 0.5, None, min_holdout=100, alpha=0.05)
    assert not worse_on_nsmc["passed"] and worse_on_nsmc["reason"].startswith("NSMC")


@pytest.mark.parametrize("better", [True, False])
def test_a_version_better_or_equal_on_the_feedback_passes(better):
    serving = np.array([True] * 200 + [False] * 100)
    candidate = np.array([True] * 300) if better else serving.copy()
    assert gate.judge(0.88, 0.88, 0.5, gate.mcnemar(serving, candidate), 100, 0.05)["passed"]


def test_a_source_flagged_often_is_quarantined_whole_and_trusted_sources_never():
    honest, flipped, moderators = rows("partner", 1000, 0), rows("attacker", 100, 5000), rows("moderators", 100, 9000)
    flagged = [r.id for r in honest[:10]] + [r.id for r in flipped[:45]] + [r.id for r in moderators[:60]]
    screening = Screening(confidence=0.97, source_share=0.2, trusted=frozenset({"moderators"}))
    ids, whole = quarantined_ids(honest + flipped + moderators, flagged, screening)
    assert whole == ["attacker"]
    assert set(ids) == {r.id for r in honest[:10]} | {r.id for r in flipped}  # moderators kept, all of them
    few = rows("tiny", 5, 20000)
    assert quarantined_ids(few, [r.id for r in few[:3]], screening) == ([r.id for r in few[:3]], [])  # too few rows
