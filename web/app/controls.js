// The request controls: the provider dropdown with each provider's status, cost and ETA,
// and the advanced panel whose sliders follow the chosen provider's ranges.

// What any provider takes when it declares nothing narrower (GenerationParams' own limits).
export const GENERIC_RANGES = {
  steps: { min: 1, max: 100, default: 20, integer: true, native_name: "steps" },
  strength: { min: 0, max: 1, default: 0.75, integer: false, native_name: "strength" },
  guidance_scale: { min: 0, max: 30, default: 7.5, integer: false, native_name: "guidance_scale" },
  seed: { min: 0, max: 4294967295, default: null, integer: true, native_name: "seed" },
};
const SLIDERS = ["steps", "strength", "guidance_scale"];
const LABELS = { steps: "Steps", strength: "Strength", guidance_scale: "Guidance", seed: "Seed" };

const money = (usd) => (usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(3)}`);
const seconds = (s) => (s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`);

// One parameter's range on one provider; null when the provider ignores it. Reads the
// per-provider `parameters` of GET /providers (min/max/default/native_name/integer, or null),
// and falls back to the generic range for what a provider does not describe.
export function rangeOf(provider, name) {
  const generic = GENERIC_RANGES[name];
  if (!provider) return generic;
  if ((provider.ignored || []).includes(name)) return null;
  if (name === "seed" && provider.capabilities && provider.capabilities.seed === false) return null;
  const declared = provider.parameters ? provider.parameters[name] : undefined;
  if (declared === null) return null;
  if (!declared) {
    if (name === "steps" && provider.capabilities && provider.capabilities.max_steps) {
      return { ...generic, max: Math.min(generic.max, provider.capabilities.max_steps) };
    }
    return generic;
  }
  const range = {
    min: declared.min ?? generic.min,
    max: declared.max ?? generic.max,
    integer: declared.integer ?? generic.integer,
    native_name: declared.native_name ?? generic.native_name,
  };
  range.default = declared.default ?? clamp(generic.default, range);
  return range;
}

export function clamp(value, range) {
  if (value === null || value === undefined || Number.isNaN(value)) return value;
  const bounded = Math.min(range.max, Math.max(range.min, value));
  return range.integer ? Math.round(bounded) : bounded;
}

export class Controls {
  constructor(elements, { onChange }) {
    this.el = elements;
    this.onChange = onChange;
    this.providers = [];
    this.estimates = null;
    this.autoName = null;
    // Parameters the user set by hand; the rest follow the chosen provider's defaults.
    this.touched = new Set();
    this.lastSeed = null;

    for (const name of SLIDERS) {
      const input = this.el.sliders[name];
      input.addEventListener("input", () => {
        this.touched.add(name);
        this.showSliderValue(name);
        this.onChange("params");
      });
    }
    this.el.provider.addEventListener("change", () => {
      this.applyRanges();
      this.describeProvider();
      this.onChange("provider");
    });
    this.el.seed.addEventListener("input", () => {
      if (this.el.seed.value.trim() === "") this.el.keepSeed.checked = false;
      this.onChange("params");
    });
    this.el.randomSeed.addEventListener("click", () => {
      this.el.seed.value = "";
      this.el.keepSeed.checked = false;
      this.onChange("params");
    });
    this.el.keepSeed.addEventListener("change", () => {
      if (this.el.keepSeed.checked && this.el.seed.value.trim() === "" && this.lastSeed !== null) {
        this.el.seed.value = String(this.lastSeed);
      }
      if (!this.el.keepSeed.checked) this.el.seed.value = "";
      this.onChange("params");
    });
    for (const input of [this.el.policy, this.el.maxCost]) {
      input.addEventListener("change", () => this.onChange("limits"));
    }
  }

  providerNamed(name) {
    return this.providers.find((p) => p.name === name) || null;
  }

  // The provider whose ranges the panel shows: the chosen one; none for auto (every provider
  // then takes the values within its own range).
  chosenProvider() {
    const name = this.el.provider.value;
    return name === "auto" ? null : this.providerNamed(name);
  }

  setProviders(listing) {
    this.providers = listing.providers;
    this.autoName = listing.auto || listing.default || null;
    this.renderOptions();
    this.applyRanges();
    this.describeProvider();
  }

  setEstimates(estimates) {
    this.estimates = estimates;
    this.renderOptions();
    this.describeProvider();
  }

  estimateFor(name) {
    return this.estimates ? this.estimates.estimates.find((e) => e.provider === name) || null : null;
  }

  // Why a provider cannot take any request now (it is down); "" when it can.
  unavailableReason(provider) {
    return provider.status === "down" ? `down: ${provider.reason || "not answering"}` : "";
  }

  // Why auto would leave a provider out of this request (size, limits); "" when it would not.
  // Chosen explicitly it may still take the job (submit fits the sketch to its sizes).
  skippedReason(provider) {
    const excluded = ((this.estimates && this.estimates.excluded) || []).find((e) => e.provider === provider.name);
    if (excluded) return excluded.reason;
    const estimate = this.estimateFor(provider.name);
    if (!estimate || estimate.eligible) return "";
    return (estimate.reasons || []).join("; ") || "does not fit this request";
  }

  optionLabel(provider) {
    const estimate = this.estimateFor(provider.name);
    const quote = estimate || provider.quote;
    const parts = [provider.name];
    const unavailable = this.unavailableReason(provider);
    if (unavailable) {
      parts.push(`unavailable (${unavailable})`);
    } else {
      if (quote) parts.push(`${money(quote.cost_usd)}, ~${seconds(quote.eta_s)}`);
      if (provider.status !== "healthy") parts.push(`${provider.status}${provider.reason ? `: ${provider.reason}` : ""}`);
      const skipped = this.skippedReason(provider);
      if (skipped) parts.push(`auto skips it: ${skipped}`);
    }
    if (!provider.is_ai) parts.push("not AI");
    return parts.join(" — ");
  }

  renderOptions() {
    const select = this.el.provider;
    const wanted = select.dataset.wanted || select.value || "auto";
    const pick = this.estimates ? this.estimates.auto : this.autoName;
    const auto = new Option(pick ? `auto (picks ${pick})` : "auto (nothing fits these limits)", "auto");
    const options = [auto];
    for (const provider of this.providers) {
      const option = new Option(this.optionLabel(provider), provider.name);
      // Unavailable providers stay listed, disabled, with the reason in their label.
      option.disabled = Boolean(this.unavailableReason(provider));
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = options.some((o) => o.value === wanted) ? wanted : "auto";
    delete select.dataset.wanted;
    this.renderStatusTable(pick);
  }

  // Status at a glance: every provider, its health, and this request's cost and ETA there.
  renderStatusTable(pick) {
    const body = this.el.statusRows;
    body.replaceChildren();
    for (const provider of this.providers) {
      const estimate = this.estimateFor(provider.name);
      const quote = estimate || provider.quote;
      const row = document.createElement("tr");
      row.dataset.provider = provider.name;
      const unavailable = this.unavailableReason(provider);
      const skipped = this.skippedReason(provider);
      const cells = [
        provider.name + (provider.name === pick ? " (auto's pick)" : ""),
        provider.status + (provider.reason && provider.status !== "healthy" ? `: ${provider.reason}` : "")
          + (skipped && !unavailable ? `; auto skips it: ${skipped}` : ""),
        quote ? money(quote.cost_usd) : "–",
        quote ? `~${seconds(quote.eta_s)}` : "–",
      ];
      for (const [index, text] of cells.entries()) {
        const cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        cell.textContent = text;
        if (index === 1) cell.className = `health ${provider.status}`;
        row.append(cell);
      }
      if (unavailable) row.classList.add("unavailable");
      body.append(row);
    }
  }

  describeProvider() {
    const name = this.el.provider.value;
    const provider = name === "auto" ? this.providerNamed(this.estimates?.auto || this.autoName) : this.providerNamed(name);
    const estimate = provider ? this.estimateFor(provider.name) : null;
    const parts = [];
    if (name === "auto") parts.push(provider ? `auto picks ${provider.name} under the ${this.el.policy.value} policy.` : "No provider fits these limits.");
    if (provider) parts.push(provider.description);
    if (estimate) parts.push(`This request: ${money(estimate.cost_usd)}, about ${seconds(estimate.eta_s)} (at worst ${seconds(estimate.eta_p90_s)}).`);
    this.el.providerHint.textContent = parts.join(" ");
  }

  // Put each slider within the chosen provider's range; an untouched one goes to its default.
  applyRanges() {
    const provider = this.chosenProvider();
    for (const name of SLIDERS) {
      const input = this.el.sliders[name];
      const range = rangeOf(provider, name);
      const hint = this.el.hints[name];
      if (range === null) {
        input.disabled = true;
        hint.textContent = `${provider.name} ignores ${LABELS[name].toLowerCase()}.`;
        this.showSliderValue(name);
        continue;
      }
      if (range.min === range.max) {
        // Nothing to choose: the provider runs one fixed value.
        input.disabled = true;
        input.min = input.max = input.value = String(range.min);
        hint.textContent = `${provider.name} always uses ${format(range.min, range)}.`;
        this.showSliderValue(name);
        continue;
      }
      input.disabled = false;
      input.min = String(range.min);
      input.max = String(range.max);
      input.step = range.integer ? "1" : String(stepFor(range));
      const current = Number(input.value);
      input.value = String(this.touched.has(name) ? clamp(current, range) : range.default);
      const native = range.native_name && range.native_name !== name ? ` (${range.native_name})` : "";
      hint.textContent = `${format(range.min, range)}–${format(range.max, range)}, default ${format(range.default, range)}${native}`
        + (provider ? ` on ${provider.name}.` : ", any provider.");
      this.showSliderValue(name);
    }
    const seedRange = rangeOf(provider, "seed");
    this.el.seed.disabled = seedRange === null;
    this.el.keepSeed.disabled = seedRange === null;
    this.el.randomSeed.disabled = seedRange === null;
    this.el.hints.seed.textContent = seedRange === null
      ? `${provider.name} ignores the seed: the same request may differ.`
      : "Empty: a random seed each time.";
  }

  showSliderValue(name) {
    const input = this.el.sliders[name];
    const fixed = input.disabled && input.min === input.max && this.chosenProvider() !== null
      && rangeOf(this.chosenProvider(), name) !== null;
    this.el.values[name].textContent = input.disabled && !fixed ? "ignored" : input.value;
  }

  // The parameters to send: those set by hand (and still used by the provider), and the seed.
  params() {
    const params = {};
    for (const name of SLIDERS) {
      const input = this.el.sliders[name];
      if (!input.disabled && this.touched.has(name)) params[name] = Number(input.value);
    }
    const seed = this.el.seed.value.trim();
    if (seed !== "" && !this.el.seed.disabled) params.seed = Number(seed);
    return params;
  }

  limits() {
    const limits = { policy: this.el.policy.value };
    const maxCost = this.el.maxCost.value.trim();
    limits.max_cost_usd = maxCost === "" ? null : Number(maxCost);
    return limits;
  }

  rememberSeed(seed) {
    this.lastSeed = seed ?? null;
    if (this.el.keepSeed.checked && this.lastSeed !== null && this.el.seed.value.trim() === "") {
      this.el.seed.value = String(this.lastSeed);
    }
    this.el.keepSeedLabel.textContent = this.lastSeed === null ? "Keep this seed" : `Keep this seed (${this.lastSeed})`;
  }

  // What persists: the request fields of PUT /preferences.
  settings() {
    const params = this.params();
    if (!this.el.keepSeed.checked) delete params.seed;
    return { provider: this.el.provider.value, ...this.limits(), params };
  }

  applySettings(saved) {
    const select = this.el.provider;
    const provider = saved.provider || "auto";
    select.dataset.wanted = provider;
    if ([...select.options].some((o) => o.value === provider)) select.value = provider;
    this.el.policy.value = saved.policy || "balanced";
    this.el.maxCost.value = saved.max_cost_usd == null ? "" : String(saved.max_cost_usd);
    this.touched.clear();
    const params = saved.params || {};
    for (const name of SLIDERS) {
      if (params[name] != null) {
        this.el.sliders[name].value = String(params[name]);
        this.touched.add(name);
      }
    }
    this.el.seed.value = params.seed == null ? "" : String(params.seed);
    this.el.keepSeed.checked = params.seed != null;
    this.applyRanges();
    this.describeProvider();
  }

  // Alternatives to offer after a failure on `failed`: providers that could take the request.
  alternativesTo(failed) {
    const candidates = this.providers.filter((p) => p.name !== failed && p.is_ai && !this.unavailableReason(p));
    // Those that fit this request as it stands first.
    const fits = (p) => (this.skippedReason(p) ? 1 : 0);
    return candidates.sort((a, b) => fits(a) - fits(b)).map((p) => p.name);
  }
}

function stepFor(range) {
  const span = range.max - range.min;
  return span <= 1 ? 0.05 : span <= 10 ? 0.1 : 0.5;
}

function format(value, range) {
  if (value === null || value === undefined) return "none";
  return range.integer ? String(Math.round(value)) : String(Number(value.toFixed(2)));
}
