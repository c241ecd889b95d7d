// /dashboard/ (the landing page): a chain's tiles and its node table,
// live through /subscribe. The chain is in the URL (?chain=) and, like the
// columns and the sort, remembered in this browser.
import { getJSON, el, status } from "./api.js";
import { defaultIds, byId } from "./columns.js";
import { columnChooser } from "./column-chooser.js";
import { NodeTable } from "./node-table.js";
import { ChainSubscription } from "./subscription.js";
import { ChainTiles } from "./tiles.js";
import * as prefs from "./prefs.js";
import * as urlState from "./url-state.js";

const statusBox = document.getElementById("status");
const picker = document.getElementById("chain-picker");
const search = document.getElementById("search");
const counts = document.getElementById("counts");
const tiles = new ChainTiles(document.getElementById("tiles"));

const saved = prefs.load("table", {});
const state = {
  columns: (saved.columns || defaultIds).filter((id) => byId.has(id)),
  sort: saved.sort && byId.has(saved.sort.id) ? saved.sort : { id: "best_height", descending: true },
  filter: urlState.get("q"),
};
if (state.columns.length === 0) state.columns = defaultIds;
const table = new NodeTable(document.getElementById("table"), state, (next) => {
  prefs.save("table", { columns: next.columns, sort: next.sort });
  urlState.set({ q: next.filter });
}, (count) => {
  counts.textContent = `${count.total} nodes, ${count.online} online, ${count.stale} stale`;
});
search.value = state.filter;
search.addEventListener("input", () => table.setFilter(search.value));
columnChooser(document.getElementById("column-list"), state.columns, (ids) => table.setColumns(ids));

let firstRender = true;

const subscription = new ChainSubscription({
  onChain: (chain) => tiles.show(chain),
  onSnapshot: (nodes) => {
    table.replaceAll(nodes);
    if (firstRender) {
      firstRender = false;
      // The benchmark's "first full render": the snapshot drawn.
      requestAnimationFrame(() => performance.mark("first-full-render"));
    }
  },
  onNodes: (nodes) => table.upsert(nodes),
  onRemoved: (peers) => table.remove(peers),
  onState: (state, text) => {
    status(statusBox, state, text);
    // After a reconnect (e.g. a server restart) the chain list may have changed.
    if (state === "ok") loadChains();
  },
});

function choose(genesis) {
  urlState.set({ chain: genesis });
  prefs.save("chain", genesis);
  subscription.follow(genesis);
}

async function loadChains() {
  try {
    const chains = await getJSON("/chains");
    const wanted = urlState.get("chain", prefs.load("chain", ""));
    picker.replaceChildren(...chains.map((chain) => el("option", {
      value: chain.genesis_hash, title: chain.genesis_hash,
      text: `${chain.name ?? chain.genesis_hash.slice(0, 10)} (${chain.nodes_online} online)`,
    })));
    if (chains.length === 0) {
      status(statusBox, "ok", "no chain has a node yet");
      return;
    }
    const chosen = chains.some((chain) => chain.genesis_hash === wanted) ? wanted : chains[0].genesis_hash;
    picker.value = chosen;
    picker.title = chosen;
    if (subscription.genesis !== chosen) choose(chosen);
  } catch (error) {
    // Lost with the subscription (a server restart): its "reconnecting"
    // stays on show, and the reconnect loads the chains again.
    if (subscription.isOpen) status(statusBox, "error", `cannot load the chains: ${error.message}`);
  }
}

picker.addEventListener("change", () => {
  picker.title = picker.value;
  choose(picker.value);
});
