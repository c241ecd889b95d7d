// /dashboard/reputation: the latest reputation each logged node gives its
// peers (/reputation/logged), and one peer's reputation over time as each
// reporting node sees it (/reputation/{peer_id}).
"use strict";

const reputationStatus = document.getElementById("status");
const currentTarget = document.getElementById("current");
const historyStatus = document.getElementById("history-status");
const historyTarget = document.getElementById("history");
const peerField = document.getElementById("peer");

const short = (peer) => (peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer);

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
    const rows = reports.map((report) => {
      const byPeer = new Map(report.remote_peer.map((peer, index) => [peer, [report.reputation[index], report.connected[index]]]));
      return [Dash.el("code", { title: report.reporting_peer, text: short(report.reporting_peer) }), report.ts,
        ...remotes.map((peer) => (byPeer.has(peer) ? `${byPeer.get(peer)[0]}${byPeer.get(peer)[1] ? "" : " (not connected)"}` : ""))];
    });
    currentTarget.replaceChildren(Dash.table(["reporting node", "at (UTC)", ...remotes.map(short)], rows));
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
