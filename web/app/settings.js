// Settings that persist: the API's /preferences for a signed-in user, and localStorage as
// well, so that the page still remembers when signed out, offline, or on an API without
// /preferences.

import { api, config } from "./api.js";

const STORAGE_KEY = "sketchbridge.settings.v1";
const SAVE_DELAY_MS = 400;

export class SettingsStore {
  constructor() {
    // false once the API answered that it has no /preferences: localStorage only from then.
    this.serverAvailable = Boolean(config.token);
    this.timer = null;
    this.pending = null;
  }

  local() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch {
      return null;
    }
  }

  // The saved settings: the server's when it has any, else this browser's; null for none.
  async load() {
    if (this.serverAvailable) {
      try {
        const saved = await api("GET", "/preferences");
        if (saved && saved.updated_at) return saved;
      } catch (error) {
        if (error.routeMissing) this.serverAvailable = false;
      }
    }
    return this.local();
  }

  // Debounced: sliders fire many events; the last value wins.
  save(settings) {
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(settings)); } catch { /* private mode */ }
    this.pending = settings;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
  }

  async flush() {
    clearTimeout(this.timer);
    const settings = this.pending;
    this.pending = null;
    if (!settings || !this.serverAvailable) return;
    try {
      await api("PUT", "/preferences", settings);
    } catch (error) {
      if (error.routeMissing) this.serverAvailable = false;
      // Otherwise offline or refused: localStorage holds them until the next change.
    }
  }

  async reset() {
    clearTimeout(this.timer);
    this.pending = null;
    try { localStorage.removeItem(STORAGE_KEY); } catch { /* private mode */ }
    if (!this.serverAvailable) return;
    try {
      await api("DELETE", "/preferences");
    } catch (error) {
      if (error.routeMissing) this.serverAvailable = false;
    }
  }
}
