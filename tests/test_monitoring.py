"""Monitoring assets (monitoring/): Prometheus rules, their unit tests, the scrape config and the
Grafana dashboard, all checked offline with promtool and by reading the dashboard JSON."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from core.paths import PROJECT_ROOT
from tests.helpers import assert_ok, require_tool

MONITORING = PROJECT_ROOT / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERTS_TEST = MONITORING / "alerts_test.yml"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

# The gateway's metrics (GET /metrics); histograms also by their series suffixes.
GATEWAY_COUNTERS_AND_GAUGES = {
    "sentiment_requests_total",
    "sentiment_reviews_total",
    "sentiment_backend_errors_total",
    "sentiment_training_jobs_total",
    "sentiment_model_serving_version",
    "sentiment_backend_up",
    "sentiment_predictions_total",
    "sentiment_shadow_texts_total",
    "sentiment_shadow_dropped_total",
    "sentiment_prediction_log_written_total",
    "sentiment_prediction_log_dropped_total",
    "sentiment_feedback_items_total",
    "sentiment_reference_confidence_mean",
    "sentiment_reference_positive_ratio",
    "sentiment_reference_unknown_ngram_share",
    "sentiment_reference_text_chars",
}
GATEWAY_HISTOGRAMS = {"sentiment_request_seconds", "sentiment_prediction_confidence", "sentiment_text_chars",
                      "sentiment_unknown_ngram_share", "sentiment_backend_call_requests"}
ALLOWED_METRICS = GATEWAY_COUNTERS_AND_GAUGES | {
    f"{name}{suffix}" for name in GATEWAY_HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")
} | {"up"}

# The live-signal alerts (gateway/live_signals.py), each against the serving version's reference.
MODEL_ALERTS = {"SentimentEstimatedAccuracyDrop", "SentimentLabelRatioShift", "SentimentUnknownNgramsRising",
                "SentimentShadowAgreementLow"}

# PromQL words that are not metric names: functions, aggregations and binary/modifier keywords.
PROMQL_WORDS = {
    # aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile",
    # functions used in dashboards and rules
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "absent",
    "absent_over_time", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "changes", "resets",
    "label_replace", "label_join", "scalar", "vector", "time", "timestamp", "sort", "sort_desc",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "quantile_over_time", "predict_linear", "sgn", "exp", "ln", "log2", "log10", "sqrt",
    # keywords
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
    "inf", "nan",
}

# Left to right: a duration (5m, 1h30m) or a number is skipped whole, so neither its unit nor its
# exponent reads as a name, and digits inside a name stay part of it.
TOKEN = re.compile(r"(?:\d+(?:ms|[smhdwy]))+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)",
                   re.IGNORECASE)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a lexical scan, enough for these files)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # range and subquery selectors, Grafana's $__ vars
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\$\w+|\$\{[^}]*\}", " ", text)  # Grafana variables elsewhere
    words = (match["name"] for match in TOKEN.finditer(text) if match["name"])
    return {word for word in words if word.lower() not in PROMQL_WORDS}


def unknown_metrics(expr: str) -> set[str]:
    return {name for name in metric_names(expr) if name not in ALLOWED_METRICS and not name.startswith("ts_")}


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require_tool("promtool"), *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(panels: list[dict]) -> list[dict]:
    """Panels, including those nested in collapsed rows."""
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def panel_targets() -> list[tuple[dict, dict]]:
    return [(panel, target) for panel in all_panels(load_dashboard()["panels"])
            for target in panel.get("targets", [])]


# --- promtool --------------------------------------------------------------------------------

def test_promtool_check_rules():
    assert_ok(run_promtool("check", "rules", str(ALERTS.relative_to(PROJECT_ROOT))))


def test_promtool_rule_unit_tests():
    assert_ok(run_promtool("test", "rules", str(ALERTS_TEST.relative_to(PROJECT_ROOT))))


def test_promtool_check_config():
    assert_ok(run_promtool("check", "config", str(PROMETHEUS_CONFIG.relative_to(PROJECT_ROOT))))


def test_dashboard_expressions_parse(tmp_path):
    """Every dashboard query is valid PromQL: written as recording rules, with Grafana's interval
    variables replaced by a duration, for promtool to parse."""
    rules = []
    for panel, target in panel_targets():
        expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", target["expr"])
        rules.append({"record": f"dashboard:panel_{panel['id']}:{target['refId']}", "expr": expr})
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    assert_ok(run_promtool("check", "rules", str(rule_file)))


# --- alert rules -----------------------------------------------------------------------------

def test_alert_rules_have_for_severity_and_annotations():
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    assert [group["name"] for group in groups] == ["sentiment", "sentiment-models"]
    rules = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    assert set(rules) == {"SentimentHighErrorRate", "SentimentHighLatencyP99", "SentimentBackendDown",
                          "SentimentGatewayDown", "SentimentTrainingFailed", "SentimentPredictionLogDropping",
                          *MODEL_ALERTS}
    for name, rule in rules.items():
        assert "for" in rule, name
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"].get("summary") and rule["annotations"].get("description"), name
        assert not unknown_metrics(rule["expr"]), (name, unknown_metrics(rule["expr"]))


def test_alert_unit_tests_cover_the_required_alerts():
    tests = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))["tests"]
    firing, quiet = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    required = {"SentimentHighErrorRate", "SentimentBackendDown", "SentimentTrainingFailed",
                "SentimentPredictionLogDropping", *MODEL_ALERTS}
    assert required <= firing, required - firing
    assert required <= quiet, required - quiet


# --- Grafana dashboard -----------------------------------------------------------------------

def test_metric_name_scan_catches_unknown_names():
    assert metric_names('histogram_quantile(0.99, sum by (le, model) (rate(sentiment_request_seconds_bucket'
                        '{endpoint="/predict"}[$__rate_interval])))') == {"sentiment_request_seconds_bucket"}
    assert metric_names('sum(rate(a_total{x="sum(b)"}[5m])) / on (job) group_left (c) up offset 1h') == {"a_total", "up"}
    assert unknown_metrics("rate(sentiment_request_total[5m]) + ts_queue_latency_microseconds") == {"sentiment_request_total"}
    assert metric_names("x_v2 offset 1h30m > 1e3 * log10(y) + 0.5") == {"x_v2", "y"}
    assert unknown_metrics("sentiment_request_seconds_bucket + sentiment_request_seconds") == {"sentiment_request_seconds"}


def test_dashboard_is_importable_with_a_prometheus_datasource_input():
    dashboard = load_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["title"] and dashboard["uid"]
    assert any(item["name"] == "DS_PROMETHEUS" and item["pluginId"] == "prometheus" for item in dashboard["__inputs"])
    assert any(var["name"] == "DS_PROMETHEUS" and var["type"] == "datasource" and var["query"] == "prometheus"
               for var in dashboard["templating"]["list"])
    for panel, target in panel_targets():
        for source in (panel["datasource"], target["datasource"]):
            assert source == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]


def test_dashboard_panels_use_only_known_metrics():
    targets = panel_targets()
    assert targets
    for panel, target in targets:
        names = metric_names(target["expr"])
        assert names, (panel["title"], target["expr"])
        assert not unknown_metrics(target["expr"]), (panel["title"], unknown_metrics(target["expr"]))


def test_dashboard_covers_every_gateway_metric_and_torchserve_latency():
    used = set().union(*(metric_names(target["expr"]) for _, target in panel_targets()))
    assert GATEWAY_COUNTERS_AND_GAUGES <= used, GATEWAY_COUNTERS_AND_GAUGES - used
    assert "sentiment_request_seconds_bucket" in used
    assert {"ts_queue_latency_microseconds", "ts_inference_latency_microseconds"} <= used


def test_dashboard_panels_have_unique_ids_and_non_overlapping_grid_positions():
    panels = all_panels(load_dashboard()["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert all(isinstance(pos[key], int) for key in ("x", "y", "w", "h")), panel["title"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
