// /dashboard/benchmarks: benchmarks (/benchmarks), and for the one chosen
// its events on a timeline (/benchmarks/{id}/events) and the targets its
// node logged (/benchmarks/{id}/targets).
"use strict";

const benchmarksStatus = document.getElementById("status");
const listTarget = document.getElementById("benchmarks");
const detailTarget = document.getElementById("detail");

async function loadBenchmarks() {
  try {
    const benchmarks = await Dash.getJSON("/benchmarks");
    if (benchmarks.length === 0) {
      Dash.status(benchmarksStatus, "ok", "no benchmark recorded yet");
      return;
    }
    Dash.status(benchmarksStatus, "ok", `${benchmarks.length} benchmark${benchmarks.length === 1 ? "" : "s"}`);
    const rows = benchmarks.map((benchmark) => [
      Dash.el("a", { href: `?id=${benchmark.id}`, text: `#${benchmark.id}` }), benchmark.description ?? "",
      benchmark.ts_start ?? "", benchmark.ts_end ?? "", benchmark.host_system_id ?? "", benchmark.peer_id ?? "",
      // A benchmark stored in the original's form shows its setup.
      Dash.el("code", { text: JSON.stringify(benchmark.benchmark_spec ?? benchmark.setup ?? null) }),
    ]);
    listTarget.replaceChildren(Dash.table(["id", "description", "start (UTC)", "end (UTC)", "host", "node", "spec"], rows));
    const chosen = Dash.param("id", String(benchmarks[0].id));
    const benchmark = benchmarks.find((one) => String(one.id) === chosen);
    if (benchmark) await loadDetail(benchmark);
  } catch (error) {
    Dash.status(benchmarksStatus, "error", `cannot load the benchmarks: ${error.message}`);
  }
}

/** Events as a timeline: one row per event name, a mark per phase. A
 * benchmark without a start or end (the original's setup form) spans its
 * events. */
function timeline(benchmark, events) {
  const times = events.map((event) => Dash.parseTime(event.created_at));
  const start = benchmark.ts_start ? Dash.parseTime(benchmark.ts_start) : Math.min(...times);
  const end = Math.max(benchmark.ts_end ? Dash.parseTime(benchmark.ts_end) : start, ...times);
  const names = [...new Set(events.map((event) => event.name))];
  const width = 900, rowHeight = 22, left = 180, height = names.length * rowHeight + 30;
  const svgNS = "http://www.w3.org/2000/svg";
  const make = (tag, attributes, text) => {
    const node = document.createElementNS(svgNS, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const x = (ms) => left + (ms - start) / Math.max(end - start, 1) * (width - left - 20);
  const svg = make("svg", { class: "chart timeline", width, height, viewBox: `0 0 ${width} ${height}` });
  names.forEach((name, row) => svg.append(make("text", { x: 4, y: row * rowHeight + 20 }, name)));
  events.forEach((event) => {
    const row = names.indexOf(event.name), at = Dash.parseTime(event.created_at);
    svg.append(make("circle", { cx: x(at), cy: row * rowHeight + 16, r: 5, fill: Dash.color(row), "data-event": event.name },
      undefined));
    svg.append(make("text", { x: x(at) + 7, y: row * rowHeight + 20 }, event.phase));
  });
  svg.append(make("text", { x: left, y: height - 4 }, Dash.formatTime(start)));
  svg.append(make("text", { x: width - 20, y: height - 4, "text-anchor": "end" }, Dash.formatTime(end)));
  return svg;
}

async function loadDetail(benchmark) {
  detailTarget.replaceChildren(Dash.el("h3", { text: `Benchmark #${benchmark.id}: ${benchmark.description ?? ""}` }));
  try {
    const [events, targets] = await Promise.all([
      Dash.getJSON(`/benchmarks/${benchmark.id}/events`), Dash.getJSON(`/benchmarks/${benchmark.id}/targets`)]);
    detailTarget.append(Dash.el("h4", { text: "Events" }), events.length === 0
      ? Dash.el("p", { class: "empty", text: "no events recorded" }) : timeline(benchmark, events));
    const profiling = (target) => (benchmark.peer_id
      ? Dash.el("a", { href: `/dashboard/profiling?peer_id=${encodeURIComponent(benchmark.peer_id)}`, text: target.target })
      : target.target);
    detailTarget.append(Dash.el("h4", { text: "Targets logged by the benchmarked node" }), targets.length === 0
      ? Dash.el("p", { class: "empty", text: "no targets logged" })
      : Dash.table(["target"], targets.map((target) => [profiling(target)])));
  } catch (error) {
    const failure = Dash.el("div", {});
    Dash.status(failure, "error", `cannot load benchmark #${benchmark.id}: ${error.message}`);
    detailTarget.append(failure);
  }
}

loadBenchmarks();
