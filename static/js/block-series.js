// Per-block series of a chain from /chains/{g}/blocks (newest first): the
// canonical block of a height is the one first seen; the others are forks.
import { parseTime } from "./format.js";

export function blockSeries(blocks) {
  const byHeight = new Map();
  for (const block of blocks) {
    const list = byHeight.get(block.height) || [];
    list.push({ ...block, seen: parseTime(block.first_seen) });
    byHeight.set(block.height, list);
  }
  const heights = [...byHeight.keys()].sort((a, b) => a - b);
  const blockTime = [], p50 = [], p90 = [], forks = [];
  for (const height of heights) {
    const list = byHeight.get(height).sort((a, b) => a.seen - b.seen);
    const [first, ...others] = list;
    const previous = byHeight.get(height - 1);
    if (previous) blockTime.push({ x: height, y: first.seen - Math.min(...previous.map((block) => block.seen)) });
    if (first.propagation_p50_ms != null) p50.push({ x: height, y: first.propagation_p50_ms });
    if (first.propagation_p90_ms != null) p90.push({ x: height, y: first.propagation_p90_ms });
    // A fork's block, drawn at the delay after the height's first block.
    for (const other of others) forks.push({ x: height, y: other.seen - first.seen });
  }
  return { blockTime, p50, p90, forks, heights: heights.length };
}
