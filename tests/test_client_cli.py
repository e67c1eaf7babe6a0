"""sentiment_client: the CLI scores an NSMC file through a live gateway; the client's retry rule."""
from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3.connection
import urllib3.util.retry

from core.paths import PROJECT_ROOT
from deploy.ports import free_port
from sentiment_client import SentimentClient, SentimentError

pytestmark = pytest.mark.e2e

REVIEWS = 1000
BLANK_LINE = 101  # a file line number; line 1 is the header
LABELS = {"0": "negative", "1": "positive"}


@pytest.fixture(scope="module")
def reviews_tsv(tmp_path_factory, nsmc_dir) -> Path:
    """The first reviews of NSMC's test file (id, document, label), one of them blanked."""
    with open(nsmc_dir / "ratings_test.txt", encoding="utf-8") as stream:
        lines = [line.rstrip("\n") for line in itertools.islice(stream, REVIEWS + 1)]
    review_id, _, label = lines[BLANK_LINE - 1].split("\t")
    lines[BLANK_LINE - 1] = f"{review_id}\t   \t{label}"
    path = tmp_path_factory.mktemp("reviews") / "reviews.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected_labels(path: Path) -> dict[int, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number: LABELS[line.split("\t")[2]] for number, line in enumerate(lines[1:], 2)}


def score(stack, *args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sentiment_client", "score", *map(str, args), "--url", stack.gateway_url]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def assert_scored_all_but_blank(rows: list[dict], reviews_tsv: Path, stderr: str) -> None:
    expected = expected_labels(reviews_tsv)
    assert [int(row["line"]) for row in rows] == list(expected)
    failed = [row for row in rows if row.get("error")]
    assert [int(row["line"]) for row in failed] == [BLANK_LINE] and not failed[0].get("label")
    assert f"line {BLANK_LINE}: blank text" in stderr
    scored = [row for row in rows if not row.get("error")]
    assert all(row["label"] in ("positive", "negative") and 0.5 <= float(row["confidence"]) <= 1 for row in scored)
    accuracy = sum(row["label"] == expected[int(row["line"])] for row in scored) / len(scored)
    assert accuracy > 0.75, accuracy
    print(f"accuracy {accuracy:.3f}; {stderr.splitlines()[-1]}")  # the CLI's summary: rows, seconds, reviews/s


def test_scores_a_tsv_file_into_jsonl(fast_stack, reviews_tsv, tmp_path):
    output = tmp_path / "scored.jsonl"
    result = score(fast_stack, reviews_tsv, "-o", output, "--mode", "fast")
    assert result.returncode == 1, result.stderr
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert_scored_all_but_blank(rows, reviews_tsv, result.stderr)
    assert f"scored {REVIEWS - 1} rows, 1 failed" in result.stderr


def test_writes_csv_to_stdout(fast_stack, reviews_tsv):
    result = score(fast_stack, reviews_tsv, "--format", "csv", "--batch-size", "64", "--concurrency", "2")
    assert result.returncode == 1, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert_scored_all_but_blank(rows, reviews_tsv, result.stderr)


def test_only_the_texts_the_server_rejects_fail(fast_stack, tmp_path):
    texts = ["정말 재밌어요 최고", "가" * 2001, "최악 시간 낭비"]  # the server takes at most 2000 characters
    source = tmp_path / "reviews.jsonl"
    source.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    result = score(fast_stack, source, "-o", tmp_path / "scored.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text(encoding="utf-8").splitlines()]
    assert result.returncode == 1, result.stderr
    assert [row.get("label") for row in rows] == ["positive", None, "negative"]
    assert rows[1]["error"].startswith("HTTP 400") and "line 2: HTTP 400" in result.stderr


# ---- the client alone: no server, or a canned one -------------------------------------------------


@pytest.fixture
def canned():
    """A local server that answers each POST with the next of its `answers` (set by the test): a
    status, 200 with one prediction, else an error; or "silent", no answer for 0.5 s, then none."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


class CannedAnswers(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status = next(self.server.answers)
        if status == "silent":
            time.sleep(0.5)  # longer than the client's read timeout
            return
        body = ({"0": {"text": "t", "label": "positive", "confidence": 0.9}} if status == 200
                else {"error": {"code": f"code_{status}", "message": "m", "field": None}})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


def count_attempts(monkeypatch) -> list[int]:
    """The list returned grows by one per HTTP request urllib3 makes, retries included."""
    attempts: list[int] = []
    request = urllib3.connection.HTTPConnection.request

    def counted(self, *args, **kwargs):
        attempts.append(1)
        return request(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "request", counted)
    return attempts


def test_connection_refused_is_retried_then_raises(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", sleeps.append)
    client = SentimentClient(f"http://127.0.0.1:{free_port()}", retries=3, backoff=0.5)
    attempts = count_attempts(monkeypatch)
    with pytest.raises(SentimentError) as raised:
        client.predict(["좋아요"])
    assert len(attempts) == 1 + 3 and sleeps == [0.5, 1.0, 2.0]
    assert raised.value.status is None and raised.value.code == "unreachable"


@pytest.mark.parametrize("answers, attempts, outcome", [
    ([503, 504, 200], 3, "positive"),
    ([503, 503, 503, 503], 4, "code_503"),
    ([400], 1, "code_400"),
    ([502], 1, "code_502"),
    ([413], 1, "code_413"),
    (["silent", 200], 2, "positive"),
    (["silent"] * 4, 4, "timeout"),
])
def test_only_503_504_and_no_answer_are_retried(monkeypatch, canned, answers, attempts, outcome):
    canned.answers = iter(answers)
    client = SentimentClient(canned.url, timeout=0.2, retries=3, backoff=0)
    sent = count_attempts(monkeypatch)
    try:
        got = client.predict("t")[0]["label"]
    except SentimentError as exc:
        got = exc.code
    assert (len(sent), got) == (attempts, outcome)
