// Shared code of the dashboards: JSON requests, the /feed connection with
// reconnects, status banners and a small SVG line chart. Plain browser
// JavaScript, no libraries, nothing loaded from outside this server.
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
 * Draws a line chart into `container` (replacing what it held):
 * series = [{ name, points: [[timeMs, value], …] }]. Returns the SVG.
 */
Dash.lineChart = (container, series, { width = 900, height = 280, unit = "" } = {}) => {
  container.replaceChildren();
  const points = series.flatMap((one) => one.points);
  if (points.length === 0) {
    container.append(Dash.el("p", { class: "empty", text: "no data yet" }));
    return null;
  }
  const svgNS = "http://www.w3.org/2000/svg";
  const make = (tag, attributes) => {
    const node = document.createElementNS(svgNS, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  const margin = { left: 70, right: 10, top: 10, bottom: 24 };
  // Ranges by a loop: spreading a long array into Math.min overflows the stack.
  let [x0, x1, y0, y1] = [Infinity, -Infinity, 0, 0];
  for (const [x, y] of points) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x);
    y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  if (x0 === x1) { x0 -= 1000; x1 += 1000; }
  if (y0 === y1) { y1 = y0 + 1; }
  const sx = (x) => margin.left + (x - x0) / (x1 - x0) * (width - margin.left - margin.right);
  const sy = (y) => height - margin.bottom - (y - y0) / (y1 - y0) * (height - margin.top - margin.bottom);
  const svg = make("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.append(make("line", { class: "axis", x1: margin.left, y1: sy(y0), x2: width - margin.right, y2: sy(y0) }));
  svg.append(make("line", { class: "axis", x1: margin.left, y1: margin.top, x2: margin.left, y2: height - margin.bottom }));
  for (let tick = 0; tick <= 4; tick += 1) {
    const y = y0 + (y1 - y0) * tick / 4, x = x0 + (x1 - x0) * tick / 4;
    const yLabel = make("text", { x: margin.left - 6, y: sy(y) + 4, "text-anchor": "end" });
    yLabel.textContent = `${Number(y.toPrecision(4))}${unit}`;
    const xLabel = make("text", { x: sx(x), y: height - 6, "text-anchor": tick === 0 ? "start" : tick === 4 ? "end" : "middle" });
    xLabel.textContent = Dash.formatTime(x).slice(11);
    svg.append(yLabel, xLabel);
  }
  series.forEach((one, index) => {
    const sorted = [...one.points].sort((a, b) => a[0] - b[0]);
    const path = sorted.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
    const line = make("path", { class: "series", d: path, stroke: Dash.color(index), "data-series": one.name });
    const title = make("title", {});
    title.textContent = one.name;
    line.append(title);
    svg.append(line);
    if (sorted.length === 1) {
      svg.append(make("circle", { cx: sx(sorted[0][0]), cy: sy(sorted[0][1]), r: 3, fill: Dash.color(index) }));
    }
  });
  const legend = Dash.el("div", { class: "legend" }, ...series.map((one, index) => {
    const item = Dash.el("span", { text: one.name });
    item.style.setProperty("--swatch", Dash.color(index));
    return item;
  }));
  container.append(svg, legend);
  return svg;
};

/** The page header with links to the four dashboards. */
Dash.header = (current) => {
  const pages = [["nodes", "/dashboard/"], ["profiling", "/dashboard/profiling"],
    ["reputation", "/dashboard/reputation"], ["benchmarks", "/dashboard/benchmarks"]];
  const links = pages.map(([name, href]) => Dash.el("a", { href, class: name === current ? "current" : "", text: name }));
  document.body.prepend(Dash.el("header", {}, Dash.el("h1", { text: "tetcore-analytics" }), ...links));
};
