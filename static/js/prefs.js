// Choices remembered in this browser (localStorage), under one prefix.
// Storage can be refused (private windows, quotas): then choices last
// for the page only.
const prefix = "tetcore-dashboard.";

export function load(name, fallback) {
  try {
    const text = localStorage.getItem(prefix + name);
    return text == null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function save(name, value) {
  try { localStorage.setItem(prefix + name, JSON.stringify(value)); } catch { /* kept for this page only */ }
}
