// A story's timeline: its articles per time bucket as a small SVG bar chart (originals
// dark, syndicated copies light). Hand-written, no chart library.

import { el, formatTime, svg } from "./dom.js";

const WIDTH = 600;
const HEIGHT = 120;
const AXIS = 18; // room for the time labels under the bars
const MAX_BUCKETS = 24;

export function renderTimeline(articles, { from, to } = {}) {
  const times = articles.map((a) => Date.parse(a.published_at)).filter(Number.isFinite);
  if (!times.length) return el("p", { class: "empty" }, "No dated articles.");
  let start = Math.min(...times, Date.parse(from) || Infinity);
  let end = Math.max(...times, Date.parse(to) || -Infinity);
  if (end <= start) {
    start -= 30 * 60 * 1000; // one moment: a one-hour window around it
    end += 30 * 60 * 1000;
  }
  const buckets = Math.max(1, Math.min(MAX_BUCKETS, articles.length * 2));
  const span = (end - start) / buckets;
  const originals = new Array(buckets).fill(0);
  const copies = new Array(buckets).fill(0);
  for (const article of articles) {
    const t = Date.parse(article.published_at);
    if (!Number.isFinite(t)) continue;
    const i = Math.min(buckets - 1, Math.max(0, Math.floor((t - start) / span)));
    (article.dup_of ? copies : originals)[i] += 1;
  }
  const peak = Math.max(1, ...originals.map((n, i) => n + copies[i]));
  const plot = HEIGHT - AXIS;
  const barWidth = WIDTH / buckets;
  const chart = svg("svg", {
    class: "timeline", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": `Timeline: ${times.length} articles from ${formatTime(start)} to `
      + `${formatTime(end)}, at most ${peak} in one bucket`,
  });
  chart.append(svg("line", { x1: 0, y1: plot, x2: WIDTH, y2: plot, class: "axis" }));
  for (let i = 0; i < buckets; i += 1) {
    const x = i * barWidth + 1;
    const w = Math.max(1, barWidth - 2);
    const hOriginal = (originals[i] / peak) * (plot - 4);
    const hCopy = (copies[i] / peak) * (plot - 4);
    const label = `${formatTime(start + i * span)}: ${originals[i]} original, ${copies[i]} `
      + `cop${copies[i] === 1 ? "y" : "ies"}`;
    if (originals[i]) {
      chart.append(svg("rect", { class: "bar", x, y: plot - hOriginal, width: w,
                                 height: hOriginal }, svg("title", {}, label)));
    }
    if (copies[i]) {
      chart.append(svg("rect", { class: "bar copy", x, y: plot - hOriginal - hCopy, width: w,
                                 height: hCopy }, svg("title", {}, label)));
    }
  }
  chart.append(svg("text", { x: 0, y: HEIGHT - 4, class: "tick" }, formatTime(start)));
  chart.append(svg("text", { x: WIDTH, y: HEIGHT - 4, class: "tick", "text-anchor": "end" },
    formatTime(end)));
  return el("figure", { class: "timeline-figure" }, chart,
    el("figcaption", {}, `${times.length} articles; peak ${peak} per `
      + `${Math.max(1, Math.round(span / 60000))} min`));
}
