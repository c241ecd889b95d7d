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
    const time = (text) => (text ? Dash.el("span", { class: "nowrap", title: text, text: Dash.formatTime(Dash.parseTime(text)) }) : "");
    const rows = benchmarks.map((benchmark) => [
      Dash.el("a", { href: `?id=${benchmark.id}`, text: `#${benchmark.id}` }), benchmark.description ?? "",
      time(benchmark.ts_start), time(benchmark.ts_end), benchmark.host_system_id ?? "",
      benchmark.peer_id ? Dash.el("code", { class: "peer", text: benchmark.peer_id }) : "",
      // A benchmark stored in the original's form shows its setup.
      Dash.el("code", { class: "spec", text: JSON.stringify(benchmark.benchmark_spec ?? benchmark.setup ?? null) }),
    ]);
    listTarget.replaceChildren(Dash.table(["id", "description", "start (UTC)", "end (UTC)", "host", "node", "spec"], rows));
    const chosen = Dash.param("id", String(benchmarks[0].id));
    const benchmark = benchmarks.find((one) => String(one.id) === chosen);
    if (benchmark) await loadDetail(benchmark);
  } catch (error) {
    Dash.status(benchmarksStatus, "error", `cannot load the benchmarks: ${error.message}`);
  }
}

/** Events as a timeline drawn by Chart.js: one row per event name, a
 * point per phase (its label in the tooltip). A benchmark without a start
 * or end (the original's setup form) spans its events. The box lists the
 * event names in data-events and the points in data-points. */
function timeline(benchmark, events) {
  const times = events.map((event) => Dash.parseTime(event.created_at));
  const start = benchmark.ts_start ? Dash.parseTime(benchmark.ts_start) : Math.min(...times);
  const end = Math.max(benchmark.ts_end ? Dash.parseTime(benchmark.ts_end) : start, ...times);
  const names = [...new Set(events.map((event) => event.name))];
  const canvas = Dash.el("canvas", { role: "img", "aria-label": `events: ${names.join(", ")}` });
  const holder = Dash.el("div", { class: "chart-canvas" }, canvas);
  holder.style.height = `${names.length * 28 + 70}px`;
  const box = Dash.el("figure", { class: "chart-box", "data-events": names.join("|"), "data-points": String(events.length) }, holder);
  if (typeof Chart === "undefined") {
    holder.replaceChildren(Dash.el("p", { class: "empty", text: "no chart: /vendor/chart.js is missing (Debian package libjs-chart.js)" }));
    return box;
  }
  const style = getComputedStyle(document.documentElement);
  Chart.defaults.color = style.getPropertyValue("--muted").trim();
  Chart.defaults.borderColor = style.getPropertyValue("--line").trim();
  // Drawn once the box is in the page, so that Chart.js can measure it.
  requestAnimationFrame(() => new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: names.map((name, row) => ({
        label: name, backgroundColor: Dash.color(row), borderColor: Dash.color(row), pointRadius: 6,
        data: events.filter((event) => event.name === name)
          .map((event) => ({ x: Dash.parseTime(event.created_at), y: row, phase: event.phase })),
      })),
    },
    options: {
      animation: false, maintainAspectRatio: false, responsive: true,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label} ${item.raw.phase} at ${Dash.formatTime(item.raw.x)}` } },
      },
      scales: {
        x: { type: "linear", min: start, max: end, ticks: { maxTicksLimit: 6, callback: (value) => Dash.formatTime(value).slice(11) } },
        // One tick per event name: generated ticks would start at the
        // axis's -0.5 and fall between the rows, leaving them unlabelled.
        y: { type: "linear", min: -0.5, max: names.length - 0.5, reverse: true,
          afterBuildTicks: (axis) => { axis.ticks = names.map((_, row) => ({ value: row })); },
          ticks: { callback: (value) => names[value] ?? "" } },
      },
    },
  }));
  return box;
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
