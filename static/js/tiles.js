// The header tiles of a chain: best, finalized, average block time, time
// since the last block (counted on locally between updates), nodes.
import { el } from "./api.js";
import { duration, integer, parseTime } from "./format.js";

export class ChainTiles {
  constructor(container) {
    this.container = container;
    this.chain = null;
    this.values = {};
    const tiles = [["best", "Best block"], ["finalized", "Finalized"], ["average", "Average block time"],
      ["since", "Last block"], ["nodes", "Nodes online / total"]];
    container.replaceChildren(...tiles.map(([id, title]) => {
      this.values[id] = el("div", { class: "value", "data-tile": id, text: "–" });
      return el("div", { class: "tile" }, el("div", { class: "label", text: title }), this.values[id]);
    }));
    setInterval(() => this.tick(), 1000);
  }

  show(chain) {
    this.chain = chain;
    this.receivedAt = Date.now();
    this.values.best.textContent = integer(chain.best_height);
    this.values.best.title = chain.best_hash ?? "";
    this.values.finalized.textContent = integer(chain.finalized_height);
    this.values.finalized.title = chain.finality_lag_blocks == null ? "" : `${chain.finality_lag_blocks} blocks behind the best`;
    this.values.average.textContent = duration(chain.average_block_time_ms);
    this.values.nodes.textContent = `${integer(chain.nodes_online)} / ${integer(chain.nodes_total)}`;
    this.tick();
  }

  tick() {
    if (!this.chain) return;
    const lastBlock = parseTime(this.chain.last_block_at);
    this.values.since.textContent = lastBlock == null ? "–" : duration(Math.max(0, Date.now() - lastBlock));
  }
}
