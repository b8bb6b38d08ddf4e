// Talking to the Sketchbridge API: where it is, calls with the caller's token, errors in
// the API's own shape, and following a job over the WebSocket (or by polling).

const POLL_MS = 1000;
const QUIET_CHECK_MS = 10000;

export let config = { api_url: "", ws_url: "", token: "" };

// Addresses come from GET /_local/config on the local stack, or from ?api=…&ws=…&token=…
// when the page is served by a static host in front of a deployed API.
export async function loadConfig() {
  const query = new URLSearchParams(location.search);
  let local = {};
  if (!query.get("api")) {
    const response = await fetch("/_local/config");
    if (!response.ok) throw new Error("no /_local/config");
    local = await response.json();
  }
  config = {
    api_url: (query.get("api") || local.api_url || "").replace(/\/+$/, ""),
    ws_url: query.get("ws") || local.ws_url || "",
    token: query.get("token") || local.dev_token || "",
  };
  return config;
}

export class ApiError extends Error {
  constructor(info, status = 0) {
    super(info.message);
    this.status = status;
    this.info = { code: "failed", suggestions: [], retryable: false, ...info };
  }

  // The gateway knows no such route: this API does not offer the feature (yet).
  get routeMissing() {
    return this.info.code === "no_route";
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (config.token) headers.Authorization = `Bearer ${config.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(config.api_url + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError({
      code: "unreachable", retryable: true,
      message: `Could not reach the API at ${config.api_url}.`,
      suggestions: ["For the local stack, start it with `make run`."],
    });
  }
  if (response.status === 204) return null;
  let payload = null;
  try { payload = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (!response.ok) {
    if (payload && payload.error) throw new ApiError(payload.error, response.status);
    // Not our error body: the gateway itself answered, e.g. {"message": "Not Found"}.
    const unauthorized = response.status === 401;
    const noRoute = response.status === 404 || response.status === 405;
    throw new ApiError({
      code: unauthorized ? "unauthorized" : noRoute ? "no_route" : `http_${response.status}`,
      message: `HTTP ${response.status}: ${(payload && payload.message) || response.statusText}`,
      suggestions: unauthorized ? ["The token was refused: open the page with a fresh ?token=…"] : [],
      retryable: response.status === 429 || response.status >= 500,
    }, response.status);
  }
  return payload;
}

// ---------------------------------------------------------------- following a job

export const isFinal = (event) => ["result", "error", "canceled"].includes(event.type)
  || ["succeeded", "failed", "canceled"].includes(event.status);

// What the server would push for this state, so that polling reads like the feed.
export function eventFromJob(job) {
  const base = { job_id: job.id, status: job.status, progress: job.progress, seq: job.seq };
  if (job.status === "succeeded") return { ...base, type: "result", progress: 1, result: job.result };
  if (job.status === "failed" || job.status === "canceled") return { ...base, type: "error", error: job.error };
  if (job.status === "running" && job.progress > 0) {
    const total = job.params.steps;
    return { ...base, type: "progress", step: Math.round(job.progress * total), total_steps: total };
  }
  return { ...base, type: "status", message: `${job.status} on ${job.provider}` };
}

// Resolves with the job's final event: from the WebSocket, or by polling when that fails.
// The WebSocket only makes progress quicker to see; polling always learns the outcome.
// `stop()` on the returned handle ends following early (the page moved on to another job).
export function follow(job, onEvent, onNote = () => {}) {
  let done = false;
  let finish;
  const promise = new Promise((resolve) => {
    let polling = false;
    let socket = null;
    let quietTimer = null;
    let lastHeard = Date.now();

    finish = (event) => {
      if (done) return;
      done = true;
      clearInterval(quietTimer);
      if (socket) socket.close();
      resolve(event);
    };
    const accept = (event) => {
      if (done || event.job_id !== job.id) return;
      onEvent(event);
      if (isFinal(event)) finish(event);
    };
    const poll = async () => {
      let seen = "";
      let warned = false;
      while (!done) {
        try {
          const event = eventFromJob(await api("GET", `/generations/${job.id}`));
          const key = [event.type, event.status, event.progress].join();
          if (key !== seen) { seen = key; accept(event); }
        } catch (error) {
          if (!error.info || !error.info.retryable) {
            finish({ type: "error", status: "failed", job_id: job.id, error: error.info || { code: "failed", message: String(error) } });
            return;
          }
          if (!warned) { warned = true; onNote(`The API did not answer (${error.message}); still trying.`); }
        }
        await new Promise((wake) => setTimeout(wake, POLL_MS));
      }
    };
    const fallBack = (reason) => {
      if (done || polling) return;
      polling = true;
      clearInterval(quietTimer);
      if (socket) socket.close();
      onNote(`WebSocket unavailable (${reason}); polling every ${POLL_MS / 1000} s instead.`);
      poll();
    };
    const listen = (opened) => {
      // Subscribing after submitting loses nothing: the server first sends the current state.
      let appliedSeq = -1;
      opened.onopen = () => opened.send(JSON.stringify({ action: "subscribe", id: job.id }));
      opened.onmessage = (message) => {
        lastHeard = Date.now();
        let event = null;
        try { event = JSON.parse(message.data); } catch { /* handled below */ }
        if (!event || !event.type || !event.job_id) {
          fallBack(`unexpected message ${String(message.data).slice(0, 80)}`);
          return;
        }
        // Frames may race each other: apply only those newer than the last applied.
        const final = ["result", "error", "canceled"].includes(event.type);
        if (!final && event.seq <= appliedSeq) return;
        appliedSeq = Math.max(appliedSeq, event.seq ?? 0);
        accept(event);
      };
      opened.onclose = (close) => {
        if (!done) fallBack(close.code === 1006 ? "could not connect or connection lost" : `closed with code ${close.code}`);
      };
    };
    if (!config.ws_url) { fallBack("no WebSocket address"); return; }
    // A single-use ticket, not the token, goes in the URL: access logs keep URLs.
    api("POST", "/ws-tickets").then(({ ticket }) => {
      if (done || polling) return;
      const address = config.ws_url + (config.ws_url.includes("?") ? "&" : "?")
        + `ticket=${encodeURIComponent(ticket)}`;
      try {
        socket = new WebSocket(address);
      } catch (error) {
        fallBack(error.message);
        return;
      }
      listen(socket);
    }, (error) => fallBack(`no WebSocket ticket: ${error.message}`));
    // After a silence, ask the API directly, in case a push was lost.
    quietTimer = setInterval(async () => {
      if (done || polling || Date.now() - lastHeard < QUIET_CHECK_MS) return;
      lastHeard = Date.now();
      try {
        const event = eventFromJob(await api("GET", `/generations/${job.id}`));
        if (isFinal(event)) accept(event);
      } catch { /* the feed may still deliver; polling takes over if it closes */ }
    }, 1000);
  });
  return { promise, stop: () => finish({ type: "stopped", job_id: job.id, status: "stopped" }) };
}
