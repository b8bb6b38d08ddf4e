// What the page shows about jobs: progress while rendering, the result, the error panel with
// its suggestions and alternatives, and the history strip.

const $ = (id) => document.getElementById(id);

function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

const money = (usd) => (usd == null ? "unknown" : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(3)}`);

// ---------------------------------------------------------------- while rendering

export class ProgressView {
  constructor() {
    this.reset();
  }

  reset(provider = "") {
    this.provider = provider;
    this.step = null;
    this.totalSteps = null;
    $("progress").value = 0;
    $("progress-text").textContent = "";
    $("progress-detail").textContent = "";
    $("previews").replaceChildren();
    $("log").replaceChildren();
  }

  show(visible) {
    $("progress-area").hidden = !visible;
  }

  note(text) {
    const item = element("li", { textContent: `${new Date().toLocaleTimeString()}  ${text}` });
    $("log").append(item);
    while ($("log").children.length > 200) $("log").firstElementChild.remove();
    $("log").scrollTop = $("log").scrollHeight;
  }

  // A failover hop or a retry in words, e.g. "replicate failed (rate_limited): trying bedrock".
  detail(text) {
    $("progress-detail").textContent = text;
  }

  apply(event) {
    const provider = event.result ? event.result.provider : event.provider;
    if (provider && provider !== "auto" && this.provider && provider !== this.provider) {
      this.detail(`Moved from ${this.provider} to ${provider}.`);
    }
    if (provider && provider !== "auto") this.provider = provider;
    if (event.step != null) this.step = event.step;
    if (event.total_steps != null) this.totalSteps = event.total_steps;
    if (event.type === "result" && this.totalSteps) this.step = this.totalSteps;
    const progress = event.type === "result" ? 1 : Math.max(0, Math.min(1, event.progress || 0));
    const percent = progress >= 1 ? 100 : Math.min(99, Math.round(progress * 100));
    $("progress").value = progress;
    const parts = [`${percent}%`];
    if (this.step != null && this.totalSteps) parts.push(`step ${this.step} of ${this.totalSteps}`);
    parts.push(event.status + (this.provider ? ` on ${this.provider}` : ""));
    $("progress-text").textContent = parts.join(" · ");
    // A status message says more than "running on X" only on a retry, a hop or a wait.
    if (event.message && event.type === "status" && !/^(queued|running) on \S+$/.test(event.message)) {
      this.detail(event.message);
    }
    if (event.retry_in_s != null) this.detail(`${event.message || "Waiting"} (next try in ${event.retry_in_s} s)`);
    if (event.preview_url) this.preview(event.preview_url, this.step);
    this.note(`${event.type}: ${event.message || parts.join(" ")}`);
  }

  preview(url, step) {
    const box = $("previews");
    const image = element("img", {
      src: url, alt: step != null ? `Preview at step ${step}` : "Preview", width: 96, height: 96,
    });
    box.append(image);
    while (box.children.length > 6) box.firstElementChild.remove();
  }
}

// ---------------------------------------------------------------- the result

// The hops a job went through, in words: "openai refused (content_policy), then bedrock".
export function hopsInWords(hops) {
  if (!hops || hops.length < 2) return "";
  return `Tried ${hops.map((hop) => (hop.outcome === "ok" ? hop.provider : `${hop.provider} (${hop.outcome})`)).join(", then ")}.`;
}

export function showResult(job, { elapsedSeconds = null } = {}) {
  const result = job.result;
  $("result-image").src = result.url;
  $("result-image").alt = `Generated image for: ${job.prompt}`;
  const seconds = job.duration_s ?? elapsedSeconds;
  const facts = [
    ["Provider", result.provider + (job.offline_fallback ? " (offline fallback, not AI)" : "")],
    ["Model", result.model],
    ["Seed", result.seed == null ? "none" : String(result.seed) + (result.reproducible ? "" : " (not reproducible)")],
    ["Cost", job.cached ? `${money(job.cost_usd ?? 0)} (from the cache)` : money(job.cost_usd ?? job.quote?.cost_usd)],
    ["Time", seconds == null ? "unknown" : `${Number(seconds).toFixed(1)} s`],
    ["Size", `${result.width}×${result.height}`],
  ];
  const list = $("result-facts");
  list.replaceChildren();
  for (const [term, value] of facts) {
    list.append(element("dt", { textContent: term }), element("dd", { textContent: value }));
  }
  const lineage = job.parent_id ? `Refined from an earlier image (${job.depth} step${job.depth === 1 ? "" : "s"} from the original). ` : "";
  $("result-hops").textContent = lineage + hopsInWords(job.hops);
  $("result-link").href = result.url;
  $("result").hidden = false;
}

export function hideResult() {
  $("result").hidden = true;
}

// ---------------------------------------------------------------- errors

// `alternatives`: provider names to offer a retry on; `onRetry(name)` retries there.
export function showError(info, { alternatives = [], onRetry = null } = {}) {
  const box = $("error");
  box.replaceChildren();
  box.append(
    element("p", { className: "error-title" }, [
      element("strong", { textContent: info.message || "Something went wrong." }),
      element("code", { textContent: ` [${info.code}]` }),
    ]),
  );
  const hints = [...(info.suggestions || [])];
  if (info.budget && info.budget.resets_at) {
    const when = new Date(info.budget.resets_at);
    hints.push(`The ${info.budget.period === "day" ? "daily" : "monthly"} budget resets at ${when.toLocaleString()} (${info.budget.resets_at}).`);
  }
  if (info.retry_after_s != null) hints.push(`The quota frees up again in ${info.retry_after_s} s.`);
  if (info.retryable && !info.retry_after_s) hints.push("Trying again may help.");
  if (hints.length) {
    box.append(element("ul", { className: "suggestions" }, hints.map((hint) => element("li", { textContent: hint }))));
  }
  if (alternatives.length && onRetry) {
    const buttons = alternatives.map((name) => {
      const button = element("button", { type: "button", textContent: `Try ${name} instead` });
      button.dataset.provider = name;
      button.addEventListener("click", () => onRetry(name));
      return button;
    });
    box.append(element("div", { className: "alternatives", role: "group", ariaLabel: "Other providers" }, buttons));
  }
  box.hidden = false;
}

export function hideError() {
  $("error").hidden = true;
}

// ---------------------------------------------------------------- history

export function showHistory(items, { onOpen, currentId }) {
  const strip = $("history-list");
  strip.replaceChildren();
  for (const job of items) {
    const when = new Date(job.created_at).toLocaleString();
    const label = `${job.prompt} — ${job.status}${job.result ? ` on ${job.result.provider}` : ""}, ${when}`;
    const button = element("button", { type: "button", className: "history-item", title: label, ariaLabel: label });
    button.dataset.jobId = job.id;
    if (job.id === currentId) button.setAttribute("aria-current", "true");
    if (job.result) {
      button.append(element("img", { src: job.result.url, alt: "", width: 72, height: 72, loading: "lazy" }));
    } else {
      button.append(element("span", { className: `history-status ${job.status}`, textContent: job.status }));
    }
    button.addEventListener("click", () => onOpen(job));
    strip.append(element("li", {}, [button]));
  }
  $("history").hidden = items.length === 0;
}
