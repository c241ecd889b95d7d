// The header every dashboard shares; the current page is marked by
// <body data-page>. Links carry the chosen chain along.
import { el } from "./api.js";
import { get } from "./url-state.js";
import * as prefs from "./prefs.js";

const pages = [
  ["overview", "/dashboard/"], ["chain", "/dashboard/chain"], ["nodes", "/dashboard/nodes"],
  ["profiling", "/dashboard/profiling"], ["reputation", "/dashboard/reputation"], ["benchmarks", "/dashboard/benchmarks"],
];

const current = document.body.dataset.page;
const chain = get("chain", prefs.load("chain", ""));
const links = pages.map(([name, href]) => {
  const target = chain && (name === "overview" || name === "chain") ? `${href}?chain=${encodeURIComponent(chain)}` : href;
  return el("a", { href: target, class: name === current ? "current" : null, text: name });
});
document.body.prepend(el("header", {}, el("h1", { text: "tetcore-analytics" }), el("nav", {}, ...links)));
