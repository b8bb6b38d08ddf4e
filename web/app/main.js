// The reference client: draw, describe, choose a provider, generate, watch it render, refine.
// Every call it makes is an ordinary API call a team can copy (see api.js).

import { api, ApiError, follow, loadConfig } from "./api.js";
import { Controls } from "./controls.js";
import { SettingsStore } from "./settings.js";
import { setupSketch } from "./sketch.js";
import { hideError, hideResult, ProgressView, showError, showHistory, showResult } from "./views.js";

const $ = (id) => document.getElementById(id);
const ESTIMATE_DELAY_MS = 300;
const HISTORY_SIZE = 12;

let store = null;
const progress = new ProgressView();
let currentJob = null; // the job whose result (or error) is on show
let running = null; // { job, following } while a job renders
let historyAvailable = true;

const sketch = setupSketch(
  {
    canvas: $("canvas"), lineWidth: $("line-width"), lineWidthValue: $("line-width-value"),
    undoButton: $("undo"), clearButton: $("clear"), sampleButton: $("sample"), fileInput: $("file"),
  },
  {
    onChange: () => scheduleEstimates(),
    onBadFile: (name) => showError({
      code: "unsupported_format", message: `${name} could not be read as an image.`,
      suggestions: ["Use a PNG, JPEG or WebP file."],
    }),
  },
);

const controls = new Controls(
  {
    provider: $("provider"), providerHint: $("provider-hint"), statusRows: $("provider-status-rows"),
    sliders: { steps: $("steps"), strength: $("strength"), guidance_scale: $("guidance") },
    values: { steps: $("steps-value"), strength: $("strength-value"), guidance_scale: $("guidance-value") },
    hints: { steps: $("steps-hint"), strength: $("strength-hint"), guidance_scale: $("guidance-hint"), seed: $("seed-hint") },
    seed: $("seed"), randomSeed: $("random-seed"), keepSeed: $("keep-seed"), keepSeedLabel: $("keep-seed-label"),
    policy: $("policy"), maxCost: $("max-cost"),
  },
  {
    onChange: () => {
      if (store) store.save(controls.settings());
      scheduleEstimates();
    },
  },
);

// Quotes change with the sketch's size once something is drawn.
let inkQuoted = false;
$("canvas").addEventListener("pointerup", () => {
  if (sketch.hasInk() !== inkQuoted) scheduleEstimates();
});
for (const id of ["sample", "clear", "undo"]) {
  $(id).addEventListener("click", () => { if (sketch.hasInk() !== inkQuoted) scheduleEstimates(); });
}
$("sample").addEventListener("click", () => {
  if (!$("prompt").value.trim()) $("prompt").value = "a cosy cottage under a bright sun, watercolour";
});

// ---------------------------------------------------------------- quotes

let estimateTimer = null;
let estimateSeq = 0;

function scheduleEstimates() {
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(refreshEstimates, ESTIMATE_DELAY_MS);
}

async function refreshEstimates() {
  if (!controls.providers.length) return;
  const seq = ++estimateSeq;
  const ink = sketch.hasInk();
  // Every provider's quote for this request; the sketch only for its size (none: 1024x1024).
  const body = {
    prompt: $("prompt").value.trim() || "a picture",
    provider: "auto",
    params: controls.params(),
    ...withoutNulls(controls.limits()),
  };
  if (ink) body.sketch = sketch.dataUrl();
  try {
    const estimates = await api("POST", "/estimates", body);
    if (seq !== estimateSeq) return;
    inkQuoted = ink;
    controls.setEstimates(estimates);
    // steps is null when each provider runs its own default.
    const steps = estimates.steps == null ? "each provider's default steps" : `${estimates.steps} steps`;
    $("quote-status").textContent = `Quotes for ${estimates.width}×${estimates.height}, ${steps}.`;
  } catch (error) {
    if (seq !== estimateSeq) return;
    $("quote-status").textContent = `No quote: ${error.message}`;
  }
}

function withoutNulls(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null));
}

// ---------------------------------------------------------------- running a job

function setBusy(busy) {
  $("generate").disabled = busy;
  $("refine").disabled = busy || !currentJob || currentJob.status !== "succeeded";
  $("cancel").hidden = !busy;
  $("cancel").disabled = !busy;
}

// Submits (through `submit()`, which answers the new job), follows it, shows how it ended.
async function runJob(submit) {
  if (running) return;
  hideError();
  hideResult();
  setBusy(true);
  progress.reset();
  const startedAt = performance.now();
  try {
    const job = await submit();
    progress.reset(job.provider === "auto" ? "" : job.provider);
    progress.show(true);
    progress.note(`Job ${job.id} ${job.status === "succeeded" ? "served from the cache" : "submitted"}.`);
    const following = follow(job, (event) => progress.apply(event), (text) => progress.note(text));
    running = { job, following };
    const final = await following.promise;
    const ended = await api("GET", `/generations/${job.id}`).catch(() => null);
    const elapsed = (performance.now() - startedAt) / 1000;
    showOutcome(ended || { ...job, status: final.status, result: final.result, error: final.error }, elapsed);
  } catch (error) {
    const info = error instanceof ApiError ? error.info : { code: "failed", message: String(error) };
    showError(info, retryOffer(info, $("provider").value));
  } finally {
    running = null;
    setBusy(false);
    loadHistory();
  }
}

function showOutcome(job, elapsedSeconds = null) {
  if (job.status === "succeeded" && job.result) {
    currentJob = job;
    hideError();
    showResult(job, { elapsedSeconds });
    controls.rememberSeed(job.result.seed);
    progress.detail("");
  } else if (job.status === "canceled") {
    progress.detail("Canceled. Nothing more is billed for this job.");
  } else if (job.status === "failed") {
    const info = job.error || { code: "failed", message: "The job failed." };
    showError(info, retryOffer(info, job.provider));
  }
  $("refine").disabled = Boolean(running) || !currentJob || currentJob.status !== "succeeded";
}

// The other providers to retry on after a failure that another provider may not share.
function retryOffer(info, failedProvider) {
  const providerSpecific = ["content_policy", "rate_limited", "quota_exhausted", "auth_failed",
    "provider_unavailable", "timeout", "failed", "provider_error"];
  if (!providerSpecific.includes(info.code)) return {};
  return {
    alternatives: controls.alternativesTo(failedProvider),
    onRetry: (name) => {
      $("provider").value = name;
      $("provider").dispatchEvent(new Event("change"));
      generate();
    },
  };
}

function generate() {
  const prompt = $("prompt").value.trim();
  if (!prompt) {
    showError({ code: "invalid_input", message: "Write a prompt first.", suggestions: ["Describe what the image should show."] });
    $("prompt").focus();
    return;
  }
  if (!sketch.hasInk()) {
    showError({ code: "empty_sketch", message: "The canvas is blank.", suggestions: ["Draw something first, or press “Draw a sample”."] });
    return;
  }
  const body = {
    sketch: sketch.dataUrl(),
    prompt,
    provider: $("provider").value,
    params: controls.params(),
    ...withoutNulls(controls.limits()),
  };
  const negative = $("negative-prompt").value.trim();
  if (negative) body.negative_prompt = negative;
  return runJob(() => api("POST", "/generations", body));
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  generate();
});

$("cancel").addEventListener("click", async () => {
  if (!running) return;
  const { job, following } = running;
  $("cancel").disabled = true;
  progress.detail("Canceling…");
  try {
    const canceled = await api("POST", `/generations/${job.id}/cancel`);
    if (canceled && canceled.status === "canceled") following.stop();
    progress.detail("Canceled. Nothing more is billed for this job.");
    progress.apply({ type: "status", status: "canceled", job_id: job.id, progress: canceled ? canceled.progress : 0 });
  } catch (error) {
    if (error.routeMissing) {
      showError({ code: "not_supported", message: "This API cannot cancel jobs.", suggestions: ["Wait for the job to end."] });
    } else if (error.info.code !== "job_finished") {
      showError(error.info);
      $("cancel").disabled = false;
    }
  }
});

$("refine-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!currentJob) return;
  const parent = currentJob;
  const body = { from: "result" };
  const prompt = $("refine-prompt").value.trim();
  if (prompt) body.prompt = prompt;
  body.params = { strength: Number($("refine-strength").value) };
  runJob(async () => {
    try {
      return await api("POST", `/generations/${parent.id}/refine`, body);
    } catch (error) {
      if (error.routeMissing) {
        throw new ApiError({ code: "not_supported", message: "This API cannot refine results yet." });
      }
      throw error;
    }
  });
});
$("refine-strength").addEventListener("input", () => {
  $("refine-strength-value").textContent = $("refine-strength").value;
});

$("reset").addEventListener("click", async () => {
  await store.reset();
  controls.applySettings({});
  $("settings-status").textContent = "Settings reset to the defaults.";
  scheduleEstimates();
});

// ---------------------------------------------------------------- history

async function loadHistory() {
  if (!historyAvailable) return;
  try {
    const { items } = await api("GET", `/generations?limit=${HISTORY_SIZE}`);
    showHistory(items, { onOpen: openJob, currentId: currentJob && currentJob.id });
  } catch (error) {
    if (error.routeMissing) historyAvailable = false;
  }
}

async function openJob(listed) {
  if (running) return;
  let job = listed;
  try { job = await api("GET", `/generations/${listed.id}`); } catch { /* show what the list had */ }
  if (job.status === "queued" || job.status === "running") {
    runJob(async () => job);
    return;
  }
  hideError();
  hideResult();
  showOutcome(job);
  if (job.status === "succeeded") $("result").scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    await loadConfig();
  } catch {
    $("generate").disabled = true;
    showError({
      code: "no_api", message: "No API to talk to.",
      suggestions: ["Open this page from the local stack (`make run`), or add ?api=…&ws=…&token=… to its address."],
    });
    return;
  }
  store = new SettingsStore();
  try {
    controls.setProviders(await api("GET", "/providers"));
  } catch (error) {
    showError(error.info || { code: "failed", message: String(error) });
  }
  const saved = await store.load();
  if (saved) controls.applySettings(saved);
  await refreshEstimates();
  await loadHistory();
  document.body.dataset.ready = "true";
}

setBusy(false);
start();
