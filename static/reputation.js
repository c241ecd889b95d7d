// /dashboard/reputation: the latest reputation each logged node gives its
// peers (/reputation/logged), and one peer's reputation over time as each
// reporting node sees it (/reputation/{peer_id}).
"use strict";

const reputationStatus = document.getElementById("status");
const currentTarget = document.getElementById("current");
const historyStatus = document.getElementById("history-status");
const historyTarget = document.getElementById("history");
const peerField = document.getElementById("peer");

// The first characters of a libp2p id are always "12D3KooW"; its end tells peers apart.
const short = (peer) => (peer.length > 16 ? `${peer.slice(0, 4)}…${peer.slice(-6)}` : peer);

async function loadCurrent() {
  try {
    const reports = await Dash.getJSON("/reputation/logged");
    if (reports.length === 0) {
      Dash.status(reputationStatus, "ok", "no node reported its peers' reputation recently");
      currentTarget.replaceChildren();
      return;
    }
    Dash.status(reputationStatus, "ok", `${reports.length} reporting node${reports.length === 1 ? "" : "s"}`);
    const remotes = [...new Set(reports.flatMap((report) => report.remote_peer))].sort();
    const list = document.getElementById("peers");
    list.replaceChildren(...remotes.map((peer) => Dash.el("option", { value: peer })));
    // One row per reporting node, its peers in a list: a column per peer
    // would make a table as wide as the network and mostly empty (each
    // node reports only the peers it has).
    const rows = reports.map((report) => [
      Dash.el("code", { title: report.reporting_peer, text: short(report.reporting_peer) }),
      Dash.el("span", { class: "nowrap", title: report.ts, text: Dash.formatTime(Dash.parseTime(report.ts)) }),
      Dash.el("span", { class: "reputations" }, ...report.remote_peer.map((peer, index) => {
        const reputation = report.reputation[index], connected = report.connected[index];
        return Dash.el("a", {
          href: `?peer_id=${encodeURIComponent(peer)}`, class: `reputation${reputation < 0 ? " negative" : ""}`,
          title: `${peer}${connected ? "" : " (not connected)"}`,
        }, Dash.el("code", { text: short(peer) }), ` ${reputation}${connected ? "" : " ✕"}`);
      })),
    ]);
    currentTarget.replaceChildren(Dash.table(["reporting node", "at (UTC)", "its peers' reputation (✕ not connected)"], rows));
  } catch (error) {
    Dash.status(reputationStatus, "error", `cannot load reputation: ${error.message}`);
  }
}

async function loadHistory() {
  const peer = peerField.value.trim();
  if (!peer) return;
  historyStatus.hidden = false;
  Dash.status(historyStatus, "waiting", `loading how others see ${peer}…`);
  try {
    const entries = await Dash.getJSON(`/reputation/${encodeURIComponent(peer)}?limit=1000`);
    const byReporter = new Map();
    for (const entry of entries) {
      if (!byReporter.has(entry.reporting_peer)) byReporter.set(entry.reporting_peer, []);
      byReporter.get(entry.reporting_peer).push([Dash.parseTime(entry.ts), entry.reputation]);
    }
    Dash.status(historyStatus, "ok", entries.length === 0 ? `no node reported ${peer}`
      : `${peer} as seen by ${byReporter.size} node${byReporter.size === 1 ? "" : "s"}`);
    Dash.lineChart(historyTarget, [...byReporter].map(([reporter, points]) => ({ name: short(reporter), points })));
  } catch (error) {
    Dash.status(historyStatus, "error", `cannot load the history: ${error.message}`);
  }
}

document.getElementById("controls").addEventListener("submit", (event) => {
  event.preventDefault();
  loadHistory();
});
peerField.value = Dash.param("peer_id");
loadCurrent();
loadHistory();
setInterval(() => { loadCurrent(); loadHistory(); }, 15000);
