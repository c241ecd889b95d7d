// Shared code of the older dashboards (classic scripts): JSON requests, the
// /feed connection with reconnects, status banners and a line chart drawn
// by Chart.js. Nothing is loaded from outside this server.
"use strict";

const Dash = {};

/** Query-string parameter of the page, or the fallback. */
Dash.param = (name, fallback = "") => new URLSearchParams(location.search).get(name) || fallback;

/** Shows a state on a status element: "ok", "waiting" or "error". */
Dash.status = (element, state, text) => {
  element.className = "status " + state;
  element.dataset.state = state;
  element.textContent = text;
};

/** GET a JSON endpoint; rejects with a message naming the endpoint. */
Dash.getJSON = async (path) => {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" } });
  } catch (error) {
    throw new Error(`${path}: the server cannot be reached`);
  }
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (!response.ok) {
    const detail = body && body.error ? body.error : response.statusText;
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return body;
};

/** Element helper: tag, attributes, children (strings become text). */
Dash.el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};

/** A table from column titles and rows of cells (nodes or text). */
Dash.table = (columns, rows) => {
  const head = Dash.el("tr", {}, ...columns.map((title) => Dash.el("th", { text: title })));
  const body = rows.map((cells) => Dash.el("tr", {}, ...cells.map((cell) =>
    typeof cell === "number" ? Dash.el("td", { class: "num", text: String(cell) }) : Dash.el("td", {}, cell ?? ""))));
  return Dash.el("table", {}, Dash.el("thead", {}, head), Dash.el("tbody", {}, ...body));
};

/** "2020-03-25T13:17:09.008533" (UTC, no zone) → milliseconds. */
Dash.parseTime = (text) => Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : text + "Z");

Dash.formatTime = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** Nanoseconds as "850 ns", "42 µs", "2.5 ms", "1.2 s" (profiling timings). */
Dash.formatNanoseconds = (ns) => {
  const abs = Math.abs(ns);
  const [scale, unit] = abs >= 1e9 ? [1e9, "s"] : abs >= 1e6 ? [1e6, "ms"] : abs >= 1e3 ? [1e3, "µs"] : [1, "ns"];
  return `${Number((ns / scale).toPrecision(3))} ${unit}`;
};

/**
 * The /feed WebSocket. Subscriptions are remembered and sent again after a
 * reconnect (backoff 1 s doubling to 30 s); onState reports "ok",
 * "waiting" or "error" with a sentence for people.
 */
Dash.Feed = class {
  constructor({ onData, onError, onState }) {
    this.onData = onData;
    this.onError = onError;
    this.onState = onState;
    this.subscriptions = new Map();
    this.delay = 1000;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(`${scheme}//${location.host}/feed`);
    this.onState("waiting", "connecting to the live feed…");
    this.socket.onopen = () => {
      this.delay = 1000;
      this.onState("ok", "live feed connected");
      for (const message of this.subscriptions.values()) this.socket.send(JSON.stringify(message));
    };
    this.socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.error) this.onError(message.error); else this.onData(message);
    };
    this.socket.onclose = () => {
      this.onState("error", `live feed connection lost; reconnecting in ${Math.round(this.delay / 1000)} s`);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    };
  }

  /** Subscribes (replacing an earlier subscription of the same peer and msg). */
  subscribe(message) {
    const key = `${message.peer_id}\u0000${message.msg}`;
    for (const [oldKey, old] of this.subscriptions) {
      if (oldKey === key) this.send({ peer_id: old.peer_id, msg: old.msg, interest: "unsubscribe" });
    }
    this.subscriptions.set(key, { ...message, interest: "subscribe" });
    this.send({ ...message, interest: "subscribe" });
  }

  unsubscribeAll() {
    for (const old of this.subscriptions.values()) this.send({ peer_id: old.peer_id, msg: old.msg, interest: "unsubscribe" });
    this.subscriptions.clear();
  }

  send(message) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
};

/** Colour of series `index`: well-separated hues. */
Dash.color = (index) => `hsl(${(index * 137.5) % 360} 65% 42%)`;

/**
 * Draws a line chart into `container` with Chart.js (served at
 * /vendor/chart.js from Debian's libjs-chart.js), replacing what it held:
 * series = [{ name, points: [[timeMs, value], …] }]. The container gets
 * data-points (points drawn) and data-series (series names, "|"-joined).
 * `logarithmic` suits values of different orders of magnitude (profiling
 * timings from microseconds to milliseconds); it labels 1, 2 and 5 of each.
 */
Dash.lineChart = (container, series, { height = 280, unit = "", logarithmic = false } = {}) => {
  const old = container.querySelector("canvas");
  if (old && typeof Chart !== "undefined") Chart.getChart(old)?.destroy();
  container.replaceChildren();
  const total = series.reduce((sum, one) => sum + one.points.length, 0);
  container.dataset.points = String(total);
  container.dataset.series = series.map((one) => one.name).join("|");
  if (total === 0 || typeof Chart === "undefined") {
    const text = total === 0 ? "no data yet" : "no chart: /vendor/chart.js is missing (Debian package libjs-chart.js)";
    container.append(Dash.el("p", { class: "empty", text }));
    return null;
  }
  const style = getComputedStyle(document.documentElement);
  Chart.defaults.color = style.getPropertyValue("--muted").trim();
  Chart.defaults.borderColor = style.getPropertyValue("--line").trim();
  const canvas = Dash.el("canvas", { role: "img", "aria-label": series.map((one) => one.name).join(", ") });
  const holder = Dash.el("div", { class: "chart-canvas" }, canvas);
  holder.style.height = `${height}px`;
  container.append(Dash.el("figure", { class: "chart-box" }, holder));
  // The time axis runs from the first point to the last (rounded bounds
  // can leave half of a narrow chart empty), with as many labels as fit:
  // Chart.js would otherwise lay eight upright ones over each other.
  const times = series.flatMap((one) => one.points.map(([time]) => time));
  const [first, last] = [Math.min(...times), Math.max(...times)];
  const labels = Math.max(2, Math.min(8, Math.floor(container.clientWidth / 110)));
  return new Chart(canvas, {
    type: "line",
    data: {
      datasets: series.map((one, index) => ({
        label: one.name, borderColor: Dash.color(index), backgroundColor: Dash.color(index), borderWidth: 1.5,
        pointRadius: one.points.length > 60 ? 0 : 2,
        data: [...one.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y })),
      })),
    },
    options: {
      animation: false, parsing: false, maintainAspectRatio: false, responsive: true,
      interaction: { mode: "nearest", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 10 } },
        tooltip: { callbacks: { title: (items) => Dash.formatTime(items[0].parsed.x) } },
      },
      scales: {
        x: { type: "linear", min: first < last ? first : undefined, max: first < last ? last : undefined,
          ticks: { maxTicksLimit: labels, maxRotation: 0, includeBounds: false, callback: (value) => Dash.formatTime(value).slice(11) } },
        y: {
          type: logarithmic ? "logarithmic" : "linear",
          ticks: {
            callback: (value) => {
              const lead = Math.round(value / 10 ** Math.floor(Math.log10(value)));
              if (logarithmic && ![1, 2, 5].includes(lead)) return "";
              return unit === " ns" ? Dash.formatNanoseconds(value) : `${Number(value.toPrecision(4))}${unit}`;
            },
          },
        },
      },
    },
  });
};
