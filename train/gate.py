"""Whether a candidate version may replace the serving one.

- **NSMC test:** no more than `promotion_tolerance` accuracy points below the serving version.
- **Feedback holdout:** not worse than the serving version on the held-out feedback, paired text by
  text: an exact (binomial) McNemar test on the texts exactly one of the two gets right, one-sided,
  at `feedback_gate_alpha`. With fewer than `feedback_min_holdout` held-out rows the NSMC gate
  decides alone, and the result says "insufficient feedback".
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binomtest


def mcnemar(serving_right: np.ndarray, candidate_right: np.ndarray) -> dict:
    """The paired comparison: counts, and the one-sided p-value that the candidate is worse."""
    serving_only = int(np.sum(serving_right & ~candidate_right))
    candidate_only = int(np.sum(candidate_right & ~serving_right))
    discordant = serving_only + candidate_only
    p_worse = binomtest(serving_only, discordant, 0.5, alternative="greater").pvalue if discordant else 1.0
    return {"rows": int(len(serving_right)), "serving_accuracy": round(float(np.mean(serving_right)), 5),
            "candidate_accuracy": round(float(np.mean(candidate_right)), 5), "serving_only_right": serving_only,
            "candidate_only_right": candidate_only, "p_worse": round(float(p_worse), 6)}


def judge(candidate_accuracy: float, serving_accuracy: float | None, tolerance_points: float,
          holdout: dict | None, min_holdout: int, alpha: float) -> dict:
    """Both gates' verdicts and the decision: {"passed", "nsmc": {...}, "feedback": {...}, "reason"}."""
    floor = None if serving_accuracy is None else serving_accuracy - tolerance_points / 100
    nsmc = {"candidate": candidate_accuracy, "serving": serving_accuracy, "floor": floor,
            "passed": floor is None or candidate_accuracy >= floor}
    if holdout is None or holdout["rows"] < min_holdout:
        feedback = {"passed": True, "verdict": "insufficient feedback",
                    "rows": 0 if holdout is None else holdout["rows"], "needed": min_holdout}
    else:
        feedback = {**holdout, "passed": holdout["p_worse"] >= alpha, "alpha": alpha,
                    "verdict": "worse" if holdout["p_worse"] < alpha else "not worse"}
    reasons = []
    if not nsmc["passed"]:
        reasons.append(f"NSMC test accuracy {candidate_accuracy:.4f} < serving {serving_accuracy:.4f} - "
                       f"{tolerance_points} points")
    if not feedback["passed"]:
        reasons.append(f"worse than serving on the feedback holdout ({feedback['candidate_accuracy']:.4f} vs "
                       f"{feedback['serving_accuracy']:.4f}, McNemar p = {feedback['p_worse']:.4g} < {alpha})")
    return {"passed": not reasons, "nsmc": nsmc, "feedback": feedback, "reason": "; ".join(reasons) or None}
