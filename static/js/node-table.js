// The node table of the overview: sortable, filterable, and virtualized
// (only the rows in view exist in the DOM), so 20,000 nodes cost a sort
// and a few dozen rows per frame. Changes are batched per animation frame
// and a cell is written only when its text changed.
import { el } from "./api.js";
import { byId, rank } from "./columns.js";
import { sparkline } from "./charts.js";

/** Removes a row, and the sparkline chart it may hold (Chart.js keeps a registry). */
function dropRow(row) {
  for (const canvas of row.querySelectorAll("canvas")) globalThis.Chart?.getChart(canvas)?.destroy();
  row.remove();
}

const rowHeight = 30; // px; fixed by .nodes tr in dashboard.css
const overscan = 10; // rows drawn beyond the viewport on each side
const sparkLength = 30; // bandwidth samples kept per node

export class NodeTable {
  /**
   * container: an element; state: { columns: [ids], sort: { id, descending }, filter: "" };
   * onChange(state) after a choice; onCounts({ total, online, stale }) after each sort.
   */
  constructor(container, state, onChange, onCounts) {
    this.state = state;
    this.onChange = onChange;
    this.onCounts = onCounts;
    this.nodes = new Map();
    this.bandwidth = new Map();
    this.order = [];
    this.orderDirty = true;
    this.dirty = new Set();
    this.framePending = false;
    this.rendered = 0;
    this.table = el("table", { class: "nodes" });
    this.head = el("thead");
    this.body = el("tbody");
    this.top = el("tr", { class: "spacer" });
    this.bottom = el("tr", { class: "spacer" });
    this.body.append(this.top, this.bottom);
    this.table.append(this.head, this.body);
    container.replaceChildren(el("div", { class: "table-scroll" }, this.table));
    this.rows = [];
    this.buildHead();
    addEventListener("scroll", () => this.schedule(), { passive: true });
    addEventListener("resize", () => this.schedule());
    // Ticking cells (time since the last block, uptime) follow the clock.
    setInterval(() => {
      if (this.state.columns.some((id) => byId.get(id)?.ticking)) {
        if (byId.get(this.state.sort.id)?.ticking) this.orderDirty = true;
        this.forceCells = true;
        this.schedule();
      }
    }, 1000);
  }

  buildHead() {
    const cells = this.state.columns.map((id) => {
      const column = byId.get(id);
      const sorted = this.state.sort.id === id;
      const th = el("th", { "data-column": id, class: column.num ? "num" : null,
        "aria-sort": sorted ? (this.state.sort.descending ? "descending" : "ascending") : "none" },
      el("button", { type: "button", text: column.title + (sorted ? (this.state.sort.descending ? " ▼" : " ▲") : "") }));
      th.firstChild.addEventListener("click", () => this.sortBy(id));
      return th;
    });
    this.head.replaceChildren(el("tr", {}, ...cells));
    for (const row of this.rows) dropRow(row);
    this.rows = [];
    this.top.replaceChildren(el("td", { colspan: String(this.state.columns.length) }));
    this.bottom.replaceChildren(el("td", { colspan: String(this.state.columns.length) }));
  }

  sortBy(id) {
    const same = this.state.sort.id === id;
    this.state.sort = { id, descending: same ? !this.state.sort.descending : byId.get(id).num === true };
    this.changed(true);
  }

  setFilter(text) {
    this.state.filter = text;
    this.changed(false);
  }

  setColumns(ids) {
    this.state.columns = ids;
    if (!ids.includes(this.state.sort.id)) this.state.sort = { id: ids[0], descending: false };
    this.changed(true);
  }

  changed(head) {
    if (head) this.buildHead();
    this.orderDirty = true;
    this.forceCells = true;
    this.onChange(this.state);
    this.schedule();
  }

  /** The whole list (a snapshot): replaces every node. */
  replaceAll(nodes) {
    this.nodes.clear();
    this.upsert(nodes);
  }

  upsert(nodes) {
    for (const node of nodes) {
      this.nodes.set(node.peer_id, node);
      this.dirty.add(node.peer_id);
      let samples = this.bandwidth.get(node.peer_id);
      if (!samples) this.bandwidth.set(node.peer_id, samples = []);
      if (node.bandwidth_download != null) {
        samples.push(node.bandwidth_download);
        if (samples.length > sparkLength) samples.shift();
      }
    }
    this.orderDirty = true;
    this.schedule();
  }

  remove(peerIds) {
    for (const peer of peerIds) { this.nodes.delete(peer); this.bandwidth.delete(peer); }
    this.orderDirty = true;
    this.schedule();
  }

  schedule() {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      performance.mark("table-render-start");
      this.render();
      performance.measure("table-render", "table-render-start");
    });
  }

  /** Filtered, then stale and offline last, then by the chosen column (unknown last). */
  sortNodes(now) {
    const filter = this.state.filter.trim().toLowerCase();
    const column = byId.get(this.state.sort.id);
    const direction = this.state.sort.descending ? -1 : 1;
    const keyed = [];
    const counts = { total: this.nodes.size, online: 0, stale: 0 };
    for (const node of this.nodes.values()) {
      if (node.online) counts.online += 1;
      if (node.stale) counts.stale += 1;
      if (filter && !`${node.name ?? ""} ${node.peer_id} ${node.implementation ?? ""} ${node.version ?? ""}`.toLowerCase().includes(filter)) continue;
      keyed.push({ node, rank: rank(node), key: column.sort(node, now) });
    }
    keyed.sort((a, b) => {
      if (a.rank !== b.rank) return a.rank - b.rank;
      if (a.key == null || b.key == null) return a.key == null ? (b.key == null ? 0 : 1) : -1;
      return a.key < b.key ? -direction : a.key > b.key ? direction : 0;
    });
    this.order = keyed.map((item) => item.node.peer_id);
    this.counts = counts;
  }

  render() {
    const now = Date.now();
    if (this.orderDirty) {
      this.sortNodes(now);
      this.orderDirty = false;
      this.forceCells = true;
    }
    const bodyTop = this.body.getBoundingClientRect().top;
    const first = Math.max(0, Math.floor(-bodyTop / rowHeight) - overscan);
    const last = Math.min(this.order.length, first + Math.ceil(innerHeight / rowHeight) + 2 * overscan);
    while (this.rows.length < last - first) {
      const row = el("tr", { class: "node" }, ...this.state.columns.map((id) => el("td", { "data-column": id, class: byId.get(id).num ? "num" : null })));
      this.rows.push(row);
      this.body.insertBefore(row, this.bottom);
    }
    while (this.rows.length > last - first) dropRow(this.rows.pop());
    this.top.style.height = `${first * rowHeight}px`;
    this.bottom.style.height = `${(this.order.length - last) * rowHeight}px`;
    for (let index = first; index < last; index += 1) {
      const peer = this.order[index];
      const row = this.rows[index - first];
      if (row.dataset.peer !== peer || this.forceCells || this.dirty.has(peer)) this.fill(row, this.nodes.get(peer), now);
    }
    this.dirty.clear();
    this.forceCells = false;
    if (this.onCounts && this.counts) this.onCounts(this.counts);
    this.table.dataset.rows = String(this.order.length);
    this.table.dataset.total = String(this.nodes.size);
    this.rendered += 1;
  }

  fill(row, node, now) {
    row.dataset.peer = node.peer_id;
    const state = !node.online ? "offline" : node.stale ? "stale" : "online";
    if (row.dataset.state !== state) { row.dataset.state = state; row.className = `node ${state}`; }
    this.state.columns.forEach((id, index) => {
      const column = byId.get(id);
      const cell = row.cells[index];
      const text = column.text(node, now);
      if (id === "name") return this.fillName(cell, node, text);
      if (column.spark) return this.fillSpark(cell, node, text);
      if (cell.textContent !== text) cell.textContent = text;
      const hover = column.hover ? column.hover(node) : null;
      if ((cell.title || null) !== hover) { if (hover) cell.title = hover; else cell.removeAttribute("title"); }
      return undefined;
    });
  }

  fillName(cell, node, text) {
    let link = cell.firstChild;
    if (!link) cell.append(link = el("a"));
    const href = `/dashboard/node?peer=${encodeURIComponent(node.peer_id)}`;
    if (link.getAttribute("href") !== href) { link.setAttribute("href", href); link.title = node.peer_id; }
    if (link.textContent !== text) link.textContent = text;
  }

  fillSpark(cell, node, text) {
    let label = cell.querySelector("span"), canvas = cell.querySelector("canvas");
    if (!label) {
      canvas = el("canvas", { width: "80", height: "18", class: "spark" });
      label = el("span");
      cell.append(canvas, label);
    }
    if (label.textContent !== text) label.textContent = text;
    sparkline(canvas, this.bandwidth.get(node.peer_id) || []);
  }
}
