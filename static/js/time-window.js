// The window a page's charts cover: 1 h, 24 h, 7 d or custom, in the URL
// (?window=24h, or ?window=custom&start=…&end=… in UTC) so links share it.
import { el } from "./api.js";
import { apiTime } from "./format.js";
import * as urlState from "./url-state.js";

const spans = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };

/** { name, startMs, endMs } of the URL; the end of a preset is now. */
export function current() {
  const name = urlState.get("window", "1h");
  if (name === "custom") {
    const start = Date.parse(`${urlState.get("start")}Z`), end = Date.parse(`${urlState.get("end")}Z`);
    if (Number.isFinite(start) && Number.isFinite(end) && start < end) return { name, startMs: start, endMs: end };
  }
  const span = spans[name] ?? spans["1h"];
  const endMs = Date.now();
  return { name: spans[name] ? name : "1h", startMs: endMs - span, endMs };
}

/** The API's query parameters for a window. */
export const query = (window) => `start_time=${apiTime(window.startMs)}&end_time=${apiTime(window.endMs)}`;

/** Window buttons and custom fields in `container`; onChange() after a choice. */
export function controls(container, onChange) {
  const chosen = current();
  const buttons = [...Object.keys(spans), "custom"].map((name) => {
    const button = el("button", { type: "button", "data-window": name, "aria-pressed": String(name === chosen.name), text: name });
    button.addEventListener("click", () => {
      if (name === "custom") {
        custom.hidden = false;
        return;
      }
      urlState.set({ window: name, start: null, end: null });
      mark(name);
      onChange();
    });
    return button;
  });
  const start = el("input", { type: "datetime-local", step: "1", value: apiTime(chosen.startMs).slice(0, 19) });
  const end = el("input", { type: "datetime-local", step: "1", value: apiTime(chosen.endMs).slice(0, 19) });
  const apply = el("button", { type: "submit", text: "show" });
  const custom = el("form", { class: "controls" }, el("label", {}, "from (UTC)", start), el("label", {}, "to (UTC)", end), apply);
  custom.hidden = chosen.name !== "custom";
  custom.addEventListener("submit", (event) => {
    event.preventDefault();
    urlState.set({ window: "custom", start: start.value, end: end.value });
    mark("custom");
    onChange();
  });
  const mark = (name) => { for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.window === name)); };
  container.replaceChildren(el("div", { class: "window-buttons", role: "group", "aria-label": "window" }, ...buttons), custom);
}
