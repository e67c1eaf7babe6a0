"""The auto cascade's pure functions (bench/cascade.py): no models, synthetic arrays."""
import numpy as np
import pytest

from bench.cascade import (CurvePoint, accuracy, auto_positive, choose_threshold, coarse, confidence,
                           expected_calibration_error, reliability, sent_on, sweep, thresholds)


# ---- ECE -----------------------------------------------------------------------------------------

def _calibrated(conf: float, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n reviews at confidence conf whose returned label is right for exactly round(conf * n) of them;
    half predicted positive (p = conf), half negative (p = 1 - conf)."""
    right = np.zeros(n, dtype=bool)
    right[: int(round(conf * n))] = True
    rng.shuffle(right)
    says_positive = np.arange(n) % 2 == 0
    p = np.where(says_positive, conf, 1.0 - conf)
    labels = np.where(right, says_positive, ~says_positive).astype(np.int64)
    return p, labels


def test_perfectly_calibrated_gives_zero():
    rng = np.random.default_rng(0)
    parts = [_calibrated(c, 1000, rng) for c in (0.52, 0.6, 0.7, 0.8, 0.9, 0.99)]
    p = np.concatenate([x for x, _ in parts])
    labels = np.concatenate([y for _, y in parts])
    assert expected_calibration_error(p, labels) == pytest.approx(0.0, abs=1e-9)


def test_calibrated_in_expectation_gives_near_zero():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 200_000)
    right = rng.random(conf.size) < conf
    p = np.where(right, conf, 1.0 - conf)  # every label 1: right exactly when p >= 0.5
    assert expected_calibration_error(p, np.ones(conf.size, dtype=np.int64)) < 0.01


def test_overconfident_gives_the_gap():
    rng = np.random.default_rng(2)
    p, labels = _calibrated(0.7, 1000, rng)  # right 70% of the time...
    p = np.where(p >= 0.5, 0.95, 0.05)  # ...but claims 95%
    assert expected_calibration_error(p, labels) == pytest.approx(0.25)


def test_ece_weights_bins_by_count():
    rng = np.random.default_rng(3)
    over_p, over_labels = _calibrated(0.6, 300, rng)  # 60% right at confidence 0.9: gap 0.3, 300 rows
    over_p = np.where(over_p >= 0.5, 0.9, 0.1)
    fine_p, fine_labels = _calibrated(0.6, 700, rng)  # 60% right at confidence 0.6: gap 0, 700 rows
    p, labels = np.concatenate([over_p, fine_p]), np.concatenate([over_labels, fine_labels])
    assert expected_calibration_error(p, labels) == pytest.approx(0.3 * 0.3)
    r = reliability(p, labels)
    assert r.counts.sum() == 1000 and len(r.counts) == 15 and len(r.edges) == 16
    assert np.count_nonzero(r.counts) == 2


def test_reliability_bins_edges():
    # confidence 1.0 falls in the last bin, 0.5 in the first; p and 1 - p land in the same bin
    r = reliability(np.array([1.0, 0.0, 0.5, 0.25, 0.75]), np.array([1, 0, 1, 0, 1]))
    assert r.counts[-1] == 2 and r.counts[0] == 1 and r.counts[7] == 2
    assert np.isnan(r.accuracy[1]) and r.accuracy[-1] == 1.0


# ---- routing and the auto combination ------------------------------------------------------------

def test_confidence_and_routing():
    fast = np.array([0.5, 0.55, 0.4, 0.9, 0.02, 1.0])
    assert confidence(fast) == pytest.approx([0.5, 0.55, 0.6, 0.9, 0.98, 1.0])
    assert sent_on(fast, 0.5).tolist() == [False] * 6  # t = 0.5: the fast path
    assert sent_on(fast, 0.6).tolist() == [True, True, False, False, False, False]  # strictly below t
    assert sent_on(fast, 1.0).all()  # t = 1.0: every review, even a fully confident one


def test_auto_takes_accurate_only_where_sent():
    fast = np.array([0.55, 0.45, 0.95, 0.03])
    accurate = np.array([0.2, 0.8, 0.1, 0.9])
    auto, sent = auto_positive(fast, accurate, 0.9)
    assert sent.tolist() == [True, True, False, False]
    assert auto.tolist() == [0.2, 0.8, 0.95, 0.03]
    assert auto_positive(fast, accurate, 0.5)[0].tolist() == fast.tolist()
    assert auto_positive(fast, accurate, 1.0)[0].tolist() == accurate.tolist()


def test_sweep_matches_auto_positive():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 5000)
    fast = np.clip(labels + rng.normal(0, 0.45, labels.size), 0, 1)
    accurate = np.clip(labels + rng.normal(0, 0.35, labels.size), 0, 1)
    ts = thresholds(0.01)
    assert len(ts) == 51 and ts[0] == 0.5 and ts[-1] == 1.0
    curve = sweep(fast, accurate, labels, ts)
    for point in curve[::7]:
        auto, sent = auto_positive(fast, accurate, point.threshold)
        assert point.accuracy == pytest.approx(accuracy(auto, labels))
        assert point.share_sent == pytest.approx(sent.mean())
    assert curve[0].share_sent == 0.0 and curve[0].accuracy == pytest.approx(accuracy(fast, labels))
    assert curve[-1].share_sent == 1.0 and curve[-1].accuracy == pytest.approx(accuracy(accurate, labels))
    assert all(a.share_sent <= b.share_sent for a, b in zip(curve, curve[1:]))


def test_coarse_keeps_the_grid():
    curve = [CurvePoint(float(t), 0.0, 0.0) for t in thresholds()]
    assert [p.threshold for p in coarse(curve, 0.1)] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert len(coarse(curve, 0.01)) == 51


# ---- the threshold rule --------------------------------------------------------------------------

def test_rule_picks_the_smallest_share_within_tolerance():
    curve = [CurvePoint(0.5, 0.00, 0.880), CurvePoint(0.6, 0.10, 0.889), CurvePoint(0.7, 0.20, 0.8935),
             CurvePoint(0.8, 0.30, 0.8952), CurvePoint(0.9, 0.50, 0.8960), CurvePoint(1.0, 1.00, 0.8950)]
    chosen, met = choose_threshold(curve, target_accuracy=0.8950, tolerance=0.001)
    assert met and chosen.threshold == 0.8  # 0.8935 misses 0.8940; 0.8952 is the first to reach it
    chosen, met = choose_threshold(curve, target_accuracy=0.8950, tolerance=0.002)
    assert met and chosen.threshold == 0.7


def test_rule_counts_an_exact_tie_as_meeting_it():
    curve = [CurvePoint(0.5, 0.0, 0.88), CurvePoint(0.7, 0.2, 0.895 - 0.001), CurvePoint(1.0, 1.0, 0.895)]
    assert choose_threshold(curve, 0.895, 0.001)[0].threshold == 0.7


def test_rule_breaks_share_ties_by_accuracy_then_threshold():
    curve = [CurvePoint(0.70, 0.2, 0.894), CurvePoint(0.71, 0.2, 0.8945), CurvePoint(0.72, 0.2, 0.8945),
             CurvePoint(1.0, 1.0, 0.895)]
    assert choose_threshold(curve, 0.895, 0.001)[0].threshold == 0.71


def test_rule_falls_back_to_sending_everything():
    curve = [CurvePoint(0.5, 0.0, 0.88), CurvePoint(0.8, 0.3, 0.89), CurvePoint(1.0, 1.0, 0.893)]
    chosen, met = choose_threshold(curve, target_accuracy=0.90, tolerance=0.001)
    assert not met and chosen.threshold == 1.0 and chosen.share_sent == 1.0
    chosen, met = choose_threshold(curve[:2], target_accuracy=0.90, tolerance=0.001)  # no t = 1.0 point
    assert not met and chosen.threshold == 1.0 and chosen.share_sent == 1.0 and chosen.accuracy == 0.90
