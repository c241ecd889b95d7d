// /dashboard/profiling: live tracing.profiling timings of one node per
// (target, name), aggregated per interval by /feed.
"use strict";

const profilingStatus = document.getElementById("status");
const feedError = document.getElementById("feed-error");
const chartTarget = document.getElementById("chart");
const latestTarget = document.getElementById("latest");
const form = document.getElementById("controls");
const fields = {
  peer: document.getElementById("peer"), aggregate: document.getElementById("aggregate"),
  interval: document.getElementById("interval"), history: document.getElementById("history"),
};

/** "target / name" → [[intervalStartMs, value]] of the current subscription. */
let series = new Map();
let subscribedPeer = "";
let redrawPending = false;

const feed = new Dash.Feed({
  onData: (message) => {
    if (message.peer_message.peer_id !== subscribedPeer) return;
    for (const item of message.data) {
      const key = `${item.target} / ${item.name}`;
      if (!series.has(key)) series.set(key, []);
      series.get(key).push([Dash.parseTime(item.created_at), item.time]);
    }
    scheduleRedraw();
  },
  onError: (text) => {
    feedError.hidden = false;
    Dash.status(feedError, "error", `the feed refused the subscription: ${text}`);
  },
  onState: (state, text) => {
    if (state === "ok" && subscribedPeer) showSubscribed(); else if (state !== "ok") Dash.status(profilingStatus, state, text);
  },
});

function showSubscribed() {
  const count = series.size;
  Dash.status(profilingStatus, "ok", count === 0
    ? `live: subscribed to ${subscribedPeer}; no complete interval yet`
    : `live: ${count} series of ${subscribedPeer}`);
}

function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    redraw();
  });
}

function redraw() {
  const names = [...series.keys()].sort();
  Dash.lineChart(chartTarget, names.map((name) => ({ name, points: series.get(name) })), { unit: " ns", logarithmic: true });
  let newest = -Infinity;
  for (const points of series.values()) for (const [time] of points) newest = Math.max(newest, time);
  const rows = names.flatMap((name) => series.get(name).filter(([time]) => time === newest)
    .map(([, value]) => [name, Number(value.toPrecision(6))]));
  latestTarget.replaceChildren(rows.length === 0 ? Dash.el("p", { class: "empty", text: "no data yet" })
    : Dash.el("div", {}, Dash.el("p", { text: `interval starting ${Dash.formatTime(newest)} UTC (${fields.aggregate.value})` }),
      Dash.table(["target / name", "time (ns)"], rows)));
  showSubscribed();
}

function subscribe() {
  const peer = fields.peer.value.trim();
  if (!peer) return;
  feed.unsubscribeAll();
  series = new Map();
  subscribedPeer = peer;
  feedError.hidden = true;
  const start = new Date(Date.now() - Number(fields.history.value) * 60000).toISOString().slice(0, 19);
  feed.subscribe({
    peer_id: peer, msg: "tracing.profiling", start_time: start,
    aggregate_type: fields.aggregate.value, aggregate_interval: Number(fields.interval.value),
  });
  const query = new URLSearchParams({ peer_id: peer, aggregate: fields.aggregate.value, interval: fields.interval.value });
  history.replaceState(null, "", `?${query}`);
  redraw();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  subscribe();
});

fields.peer.value = Dash.param("peer_id");
fields.aggregate.value = Dash.param("aggregate", "mean");
fields.interval.value = Dash.param("interval", "10");
if (fields.peer.value) subscribe();

// Suggest the nodes seen; the page works without the list.
Dash.getJSON("/nodes").then((nodes) => {
  const list = document.getElementById("peers");
  for (const node of nodes) if (node.peer_id) list.append(Dash.el("option", { value: node.peer_id }));
}).catch(() => {});
