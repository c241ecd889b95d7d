// /dashboard/nodes: the nodes seen (GET /nodes), with links to their data.
"use strict";

const nodesStatus = document.getElementById("status");
const nodesTarget = document.getElementById("nodes");

async function loadNodes() {
  try {
    const nodes = await Dash.getJSON("/nodes");
    if (nodes.length === 0) {
      Dash.status(nodesStatus, "ok", "no node has sent telemetry yet");
      nodesTarget.replaceChildren();
      return;
    }
    Dash.status(nodesStatus, "ok", `${nodes.length} node${nodes.length === 1 ? "" : "s"} seen`);
    const rows = nodes.map((node) => {
      const peer = node.peer_id;
      const links = peer === null ? Dash.el("span", { class: "empty", text: "peer id not known yet" }) : Dash.el("span", {},
        Dash.el("a", { href: `/dashboard/profiling?peer_id=${encodeURIComponent(peer)}`, text: "profiling" }), " · ",
        Dash.el("a", { href: `/dashboard/reputation?peer_id=${encodeURIComponent(peer)}`, text: "reputation" }), " · ",
        Dash.el("a", { href: `/nodes/log_stats?peer_id=${encodeURIComponent(peer)}`, text: "log stats" }), " · ",
        Dash.el("a", { href: `/nodes/logs?peer_id=${encodeURIComponent(peer)}&limit=100`, text: "logs" }));
      // Short values stay on one line; the links may wrap.
      const line = (text) => Dash.el("span", { class: "nowrap", text: text ?? "" });
      const software = [node.implementation, node.version].filter((part) => part).join(" ");
      const connected = node.created_at ? Dash.formatTime(Dash.parseTime(node.created_at)) : "";
      return [Dash.el("code", { class: "peer", text: peer ?? "—" }), line(node.name), line(node.chain), line(software),
        node.authority === null ? "" : node.authority ? "yes" : "no", line(node.ip_addr), line(connected), links];
    });
    nodesTarget.replaceChildren(Dash.table(
      ["peer id", "name", "chain", "implementation", "validator", "address", "last connected (UTC)", "data"], rows));
  } catch (error) {
    Dash.status(nodesStatus, "error", `cannot load the nodes: ${error.message}`);
  }
}

loadNodes();
setInterval(loadNodes, 10000);
