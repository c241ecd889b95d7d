// /dashboard/chain?chain=…: a chain over a window: block time and
// propagation per block (forks marked), finality lag, nodes online and
// the version rollout over time, and the fleet's composition.
import { getJSON, status } from "./api.js";
import { parseTime, utc } from "./format.js";
import { barChart, xyChart } from "./charts.js";
import { blockSeries } from "./block-series.js";
import { ChainTiles } from "./tiles.js";
import * as prefs from "./prefs.js";
import * as timeWindow from "./time-window.js";
import * as urlState from "./url-state.js";

const statusBox = document.getElementById("status");
const tiles = new ChainTiles(document.getElementById("tiles"));
const rankings = [["version", "Versions"], ["os", "Operating systems"], ["cpu", "CPUs"], ["memory", "Memory"],
  ["cpu_hashrate_score", "CPU score (% of reference)"], ["memory_memcpy_score", "Memory score (% of reference)"],
  ["disk_sequential_write_score", "Disk sequential score (% of reference)"], ["disk_random_write_score", "Disk random score (% of reference)"]];

let genesis = urlState.get("chain", prefs.load("chain", ""));
const path = () => `/chains/${encodeURIComponent(genesis)}`;
const box = (id, window) => {
  const container = document.getElementById(id);
  container.dataset.start = String(window.startMs);
  container.dataset.end = String(window.endMs);
  return container;
};
const overTime = (points, field = "avg") => points.map((point) => ({ x: parseTime(point.time), y: point[field] }));

async function loadLive() {
  try {
    const chain = await getJSON(path());
    document.getElementById("title").textContent = `Chain ${chain.name ?? genesis}`;
    document.getElementById("title").title = genesis;
    tiles.show(chain);
  } catch (error) {
    status(statusBox, "error", error.message);
  }
}

async function loadWindow() {
  const window = timeWindow.current();
  const query = timeWindow.query(window);
  status(statusBox, "waiting", "loading the window…");
  try {
    const [blocks, finality, online, versions, fleet] = await Promise.all([
      getJSON(`${path()}/blocks?${query}&limit=10000`),
      getJSON(`${path()}/series?metric=finality_lag&${query}`),
      getJSON(`${path()}/series?metric=nodes_online&${query}`),
      getJSON(`${path()}/series?metric=versions&${query}`),
      getJSON(`${path()}?${query}`),
    ]);
    const perBlock = blockSeries(blocks);
    xyChart(box("chart-block-time", window), { title: "Block time per block", unit: " ms", xKind: "height", series: [
      { label: "block time", points: perBlock.blockTime },
      { label: "fork (delay after the first block)", points: perBlock.forks, kind: "scatter", color: "#e03131" }] });
    xyChart(box("chart-propagation", window), { title: "Propagation per block", unit: " ms", xKind: "height", series: [
      { label: "p50", points: perBlock.p50 }, { label: "p90", points: perBlock.p90 }] });
    const range = [window.startMs, window.endMs];
    xyChart(box("chart-finality", window), { range, title: "Finality lag (blocks, nodes' average)", series: [
      { label: "average", points: overTime(finality) }, { label: "largest", points: overTime(finality, "max") }] });
    xyChart(box("chart-online", window), { range, title: "Nodes online", series: [{ label: "nodes online", points: overTime(online) }] });
    const names = [...new Set(versions.flatMap((point) => Object.keys(point.versions)))].sort();
    xyChart(box("chart-versions", window), { range, title: "Version rollout (nodes per version)", stacked: true, series: names.map((name) => ({
      label: name, points: versions.map((point) => ({ x: parseTime(point.time), y: point.versions[name] ?? 0 })) })) });
    showRankings(fleet.distributions || {});
    document.getElementById("chart-block-time").dataset.blocks = String(blocks.length);
    status(statusBox, "ok", `${utc(window.startMs)} – ${utc(window.endMs)} UTC: ${fleet.window ? fleet.window.nodes : 0} nodes, ${perBlock.heights} heights`);
  } catch (error) {
    status(statusBox, "error", `cannot load the window: ${error.message}`);
  }
}

function showRankings(distributions) {
  const target = document.getElementById("distributions");
  target.replaceChildren();
  for (const [name, title] of rankings) {
    const entries = distributions[name];
    if (!entries || entries.length === 0) continue;
    const container = document.createElement("div");
    container.id = `ranking-${name}`;
    target.append(container);
    barChart(container, { title, entries });
  }
}

async function start() {
  if (!genesis) {
    const chains = await getJSON("/chains").catch(() => []);
    if (chains.length === 0) return status(statusBox, "ok", "no chain has a node yet");
    genesis = chains[0].genesis_hash;
  }
  urlState.set({ chain: genesis });
  prefs.save("chain", genesis);
  timeWindow.controls(document.getElementById("window"), loadWindow);
  loadLive();
  loadWindow();
  setInterval(loadLive, 5000);
  return undefined;
}
start();
