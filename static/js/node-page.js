// /dashboard/node?peer=…: one node's state and its history over a window
// (/nodes/{peer}/series), each chart linking to the raw messages of that
// window (/nodes/logs).
import { getJSON, el, status } from "./api.js";
import { bytes, duration, integer, parseTime, shortHash, utc } from "./format.js";
import { xyChart } from "./charts.js";
import * as timeWindow from "./time-window.js";
import * as urlState from "./url-state.js";

const peer = urlState.get("peer");
const statusBox = document.getElementById("status");
const stateBox = document.getElementById("state");

// Each chart: its series (metric → label), the unit, and the raw message kind.
const charts = [
  { id: "best_lag", title: "Height lag (blocks behind the chain)", series: [["best_lag", "blocks behind"]], msg: "block.import" },
  { id: "finality_lag", title: "Finality lag (blocks)", series: [["finality_lag", "best − finalized"]], msg: "system.interval" },
  { id: "peers", title: "Peers", series: [["peers", "peers"]], msg: "system.interval" },
  { id: "bandwidth", title: "Bandwidth", unit: " B/s", series: [["bandwidth_download", "download"], ["bandwidth_upload", "upload"]], msg: "system.interval" },
  { id: "block_time_ms", title: "Block time", unit: " ms", series: [["block_time_ms", "block time"]], msg: "block.import" },
];

function showState(node) {
  document.getElementById("title").textContent = `Node ${node.name ?? node.peer_id}`;
  const sys = node.sysinfo || {};
  const rows = [
    ["peer id", node.peer_id], ["state", !node.online ? "offline" : node.stale ? "stale" : "online"],
    ["chain", node.chain], ["implementation", [node.implementation, node.version].filter(Boolean).join(" ")],
    ["validator", node.authority ? "yes" : "no"], ["best block", `${integer(node.best_height)} (${shortHash(node.best_hash)})`],
    ["blocks behind", integer(node.best_lag)], ["finalized", integer(node.finalized_height)], ["finality lag", integer(node.finality_lag)],
    ["block time", duration(node.block_time_ms)], ["propagation", duration(node.propagation_ms)], ["peers", integer(node.peers)],
    ["transactions", integer(node.txcount)], ["bandwidth ↓/↑", `${bytes(node.bandwidth_download, "/s")} / ${bytes(node.bandwidth_upload, "/s")}`],
    ["last seen", node.last_seen ? `${utc(parseTime(node.last_seen))} UTC` : "–"], ["uptime", duration(node.uptime_s == null ? null : node.uptime_s * 1000)],
    ["OS / arch", [node.os, node.arch, node.env].filter(Boolean).join(" / ")], ["CPU", sys.cpu], ["cores", integer(sys.core_count)],
    ["memory", bytes(sys.memory)], ["kernel", sys.linux_kernel], ["distro", sys.linux_distro],
  ];
  stateBox.replaceChildren(...rows.map(([label, value]) => el("div", {}, el("span", { text: label }), el("span", { "data-field": label, text: value ?? "–" }))));
  stateBox.dataset.state = !node.online ? "offline" : node.stale ? "stale" : "online";
}

async function loadState() {
  try {
    showState(await getJSON(`/nodes/${encodeURIComponent(peer)}/state`));
  } catch (error) {
    status(statusBox, "error", error.message);
  }
}

async function loadCharts() {
  const window = timeWindow.current();
  const query = timeWindow.query(window);
  const rawLink = (msg) => ({ href: `/nodes/logs?peer_id=${encodeURIComponent(peer)}&msg=${msg}&${query}&limit=10000`, text: "raw messages" });
  status(statusBox, "waiting", "loading the history…");
  try {
    await Promise.all(charts.map(async (chart) => {
      const series = await Promise.all(chart.series.map(async ([metric, label]) => {
        const points = await getJSON(`/nodes/${encodeURIComponent(peer)}/series?metric=${metric}&${query}`);
        return { label, points: points.map((point) => ({ x: parseTime(point.time), y: point.avg })) };
      }));
      const container = document.getElementById(`chart-${chart.id}`);
      container.dataset.start = String(window.startMs);
      container.dataset.end = String(window.endMs);
      xyChart(container, { title: chart.title, unit: chart.unit, series, link: rawLink(chart.msg), range: [window.startMs, window.endMs] });
    }));
    status(statusBox, "ok", `${utc(window.startMs)} – ${utc(window.endMs)} UTC`);
  } catch (error) {
    status(statusBox, "error", `cannot load the history: ${error.message}`);
  }
}

if (!peer) {
  status(statusBox, "error", "no node chosen: open a node from the overview (?peer=…)");
} else {
  timeWindow.controls(document.getElementById("window"), loadCharts);
  loadState();
  loadCharts();
  setInterval(loadState, 5000);
}
