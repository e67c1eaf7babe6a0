// The review page: POST the lines to /predict and show a label, confidence, model and highlighted
// explanation spans per review. No framework, no outside requests.
"use strict";

(function () {
  const form = document.getElementById("form");
  const reviews = document.getElementById("reviews");
  const mode = document.getElementById("mode");
  const explain = document.getElementById("explain");
  const submit = document.getElementById("submit");
  const status = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const results = document.getElementById("results");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  // The review text with each explanation span in a <mark>. Offsets count code points (the
  // server's), so slice an array of code points rather than the UTF-16 string.
  function highlighted(text, explanation) {
    const chars = Array.from(text);
    const box = el("p", "text");
    const spans = (explanation && explanation.spans || [])
      .filter((s) => s.start >= 0 && s.end <= chars.length && s.start < s.end)
      .sort((a, b) => a.start - b.start);
    const strongest = Math.max(1e-9, ...spans.map((s) => Math.abs(s.weight)));
    let at = 0;
    for (const span of spans) {
      if (span.start < at) continue; // overlapping: keep the first
      box.append(chars.slice(at, span.start).join(""));
      const mark = el("mark", "span " + (span.weight >= 0 ? "pos" : "neg"), chars.slice(span.start, span.end).join(""));
      mark.style.setProperty("--a", (0.1 + 0.65 * Math.abs(span.weight) / strongest).toFixed(3));
      mark.title = "weight " + (span.weight >= 0 ? "+" : "") + span.weight.toFixed(3);
      mark.dataset.weight = String(span.weight);
      box.append(mark);
      at = span.end;
    }
    box.append(chars.slice(at).join(""));
    return box;
  }

  function render(answer) {
    const keys = Object.keys(answer).sort((a, b) => Number(a) - Number(b));
    for (const key of keys) {
      const item = answer[key];
      const card = el("article", "result " + item.label);
      const head = el("div", "head");
      head.append(
        el("span", "label " + item.label, item.label),
        el("span", "confidence", (100 * item.confidence).toFixed(1) + "%"),
        el("span", "model", item.model ? item.model + " model" : ""),
      );
      if (item.explanation) {
        head.append(el("span", "method hint", "explained by " + item.explanation.method));
      }
      card.append(head, item.explanation ? highlighted(item.text, item.explanation) : el("p", "text", item.text));
      results.append(card);
    }
  }

  async function errorMessage(response) {
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    const error = body && body.error;
    if (error && error.message) {
      return error.message + (error.field ? " (field: " + error.field + ")" : "") +
        " [" + response.status + " " + error.code + "]";
    }
    return "The server answered " + response.status + " " + response.statusText + ".";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const lines = reviews.value.split("\n").map((line) => line.trim()).filter((line) => line);
    if (!lines.length) {
      showError("Type or paste at least one review, one per line.");
      return;
    }
    submit.disabled = true;
    results.replaceChildren();
    status.textContent = "Analysing " + lines.length + (lines.length === 1 ? " review…" : " reviews…");
    try {
      const response = await fetch(form.dataset.predictUrl, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify({text: lines, mode: mode.value, explain: explain.checked}),
      });
      if (!response.ok) {
        showError(await errorMessage(response));
        return;
      }
      render(await response.json());
    } catch (e) {
      showError("Could not reach the gateway: " + e.message);
    } finally {
      submit.disabled = false;
      status.textContent = "";
    }
  });

  reviews.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
})();
