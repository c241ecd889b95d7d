// Charts through Chart.js (Debian's libjs-chart.js, served at
// /vendor/chart.js as the global `Chart`; docs/dashboards.md says why).
// Every chart's box carries data-points (points drawn) and data-series,
// which the browser tests and people debugging read.
import { el } from "./api.js";
import { bytes, duration, utc } from "./format.js";

const Chart = globalThis.Chart;
const palette = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#0c8599", "#c2255c", "#5c940d", "#1864ab", "#862e9c"];
export const color = (index) => palette[index % palette.length];

/** Axis and text colours from the page's CSS (light or dark theme). */
function applyTheme() {
  const style = getComputedStyle(document.documentElement);
  Chart.defaults.color = style.getPropertyValue("--muted").trim() || "#667085";
  Chart.defaults.borderColor = style.getPropertyValue("--line").trim() || "#d0d5dd";
  Chart.defaults.font.family = "system-ui, sans-serif";
}
const live = new Set();
if (Chart) applyTheme();
// Without the library (its package not installed) the pages show their
// data and say so where a chart would be.
function missing(container, title) {
  container.replaceChildren(el("p", { class: "empty", text: `${title}: no chart, /vendor/chart.js is missing (Debian package libjs-chart.js)` }));
}
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  if (!Chart) return;
  applyTheme();
  for (const chart of live) {
    for (const scale of Object.values(chart.options.scales || {})) {
      if (scale.grid) scale.grid.color = Chart.defaults.borderColor;
      if (scale.ticks) scale.ticks.color = Chart.defaults.color;
    }
    chart.update("none");
  }
});

/** Time ticks: clock time within two days, dates beyond. */
function timeTick(spanMs) {
  return (value) => (spanMs > 2 * 86_400_000 ? utc(value).slice(5, 16) : utc(value).slice(11, spanMs > 3_600_000 ? 16 : 19));
}

/** A titled box with a canvas (and a link to the raw data, if given). */
function box(container, title, link, height) {
  const old = container.querySelector("canvas");
  const previous = old ? Chart.getChart(old) : null;
  if (previous) { live.delete(previous); previous.destroy(); }
  container.replaceChildren();
  const caption = el("figcaption", {}, el("span", { text: title }));
  if (link) caption.append(el("a", { href: link.href, class: "raw", text: link.text }));
  const canvas = el("canvas", { role: "img", "aria-label": title });
  const holder = el("div", { class: "chart-canvas" }, canvas);
  holder.style.height = `${height}px`;
  container.append(el("figure", { class: "chart-box" }, caption, holder));
  return canvas;
}

function mark(container, series) {
  container.dataset.points = String(series.reduce((sum, one) => sum + one.points.length, 0));
  container.dataset.series = String(series.length);
}

/** The y axis's tick labels: bytes and durations in the unit that reads
 * best ("150.0 kB/s", "6.0 s"), other values with the unit as given. */
function yTick(unit) {
  if (unit === " B/s") return (value) => bytes(value, "/s");
  if (unit === " ms") return (value) => duration(value);
  return (value) => `${Number(value.toPrecision(4))}${unit}`;
}

/**
 * A chart of series over x (time in ms, or heights with xKind "height"):
 * series = [{ label, points: [{x, y}], kind: "line" | "scatter" }].
 * `stacked` fills the series on top of each other; `range` ([start, end]
 * in ms) fixes the time axis to the window. Returns the Chart.
 */
export function xyChart(container, { title, unit = "", series, xKind = "time", stacked = false, link, height = 220, range }) {
  if (!Chart) return missing(container, title);
  const canvas = box(container, title, link, height);
  const datasets = (list) => list.map((one, index) => ({
    label: one.label,
    data: one.points,
    type: one.kind === "scatter" ? "scatter" : "line",
    borderColor: one.color || color(index),
    backgroundColor: stacked ? `${one.color || color(index)}99` : one.color || color(index),
    fill: stacked ? (index === 0 ? "origin" : "-1") : false,
    pointRadius: one.kind === "scatter" ? 4 : one.points.length > 60 ? 0 : 2,
    borderWidth: 1.5,
    stepped: stacked,
    spanGaps: false,
  }));
  const extent = (list) => {
    let low = Infinity, high = -Infinity;
    for (const one of list) for (const point of one.points) { low = Math.min(low, point.x); high = Math.max(high, point.x); }
    return [low, high];
  };
  const span = (list) => {
    const [low, high] = extent(list);
    return high > low ? high - low : 0;
  };
  // Block heights: the axis runs from the first block drawn to the last
  // (Chart.js's rounded bounds would leave an empty stretch at the end),
  // labelled at round heights only (a label at the last block would run
  // into the round one before it).
  const [firstHeight, lastHeight] = xKind === "height" && span(series) > 0 ? extent(series) : [undefined, undefined];
  // As many x labels as fit (about 110 px each): Chart.js would lay eight
  // upright ones over each other on a phone.
  const labels = Math.max(2, Math.min(8, Math.floor(container.clientWidth / 110)));
  const chart = new Chart(canvas, {
    type: "line",
    data: { datasets: datasets(series) },
    options: {
      animation: false, parsing: false, normalized: true, maintainAspectRatio: false, responsive: true,
      interaction: { mode: "nearest", intersect: false },
      plugins: {
        legend: { display: series.length > 1, position: "bottom", labels: { boxWidth: 10 } },
        tooltip: { callbacks: { title: (items) => (xKind === "time" ? utc(items[0].parsed.x) : `#${items[0].parsed.x}`) } },
      },
      scales: {
        x: { type: "linear", min: range?.[0] ?? firstHeight, max: range?.[1] ?? lastHeight,
          // Upright labels: slanted, the long block numbers crowd the chart.
          ticks: { maxTicksLimit: labels, maxRotation: 0, includeBounds: xKind !== "height", callback: xKind === "time" ? timeTick(range ? range[1] - range[0] : span(series)) : (value) => `#${value}` } },
        y: { stacked, beginAtZero: true, ticks: { maxTicksLimit: 6, callback: yTick(unit) } },
      },
    },
  });
  live.add(chart);
  mark(container, series);
  return chart;
}

/** Horizontal bars: entries = [{ label, count }] (a ranking). */
export function barChart(container, { title, entries }) {
  if (!Chart) return missing(container, title);
  const canvas = box(container, title, null, Math.max(80, 22 * entries.length + 30));
  const chart = new Chart(canvas, {
    type: "bar",
    data: { labels: entries.map((entry) => entry.label), datasets: [{ label: "nodes", data: entries.map((entry) => entry.count), backgroundColor: color(0) }] },
    options: {
      indexAxis: "y", animation: false, maintainAspectRatio: false, responsive: true,
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { ticks: { autoSkip: false } } },
    },
  });
  live.add(chart);
  container.dataset.points = String(entries.length);
  container.dataset.series = "1";
  return chart;
}

/** A sparkline (no axes) of recent values in a small canvas; reused as rows scroll. */
export function sparkline(canvas, values) {
  if (!Chart) return null;
  const data = values.map((y, x) => ({ x, y }));
  let chart = Chart.getChart(canvas);
  if (chart) {
    chart.data.datasets[0].data = data;
    chart.update("none");
    return chart;
  }
  chart = new Chart(canvas, {
    type: "line",
    data: { datasets: [{ data, borderColor: color(0), borderWidth: 1, pointRadius: 0 }] },
    options: {
      animation: false, parsing: false, responsive: false, events: [],
      plugins: { legend: { display: false }, tooltip: { enabled: false } },
      scales: { x: { type: "linear", display: false }, y: { display: false, beginAtZero: true } },
    },
  });
  return chart;
}
