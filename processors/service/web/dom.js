// DOM helpers. Every piece of text that comes from an article, a feed, an alert or a story is
// put into the page as a text node (Node.append with a string, textContent): nothing from
// the server is ever parsed as HTML. The one exception to plain text, search highlights, is
// rebuilt from the fragments by splitting on the highlighter's own <em> tags (highlight()).

const SVG_NS = "http://www.w3.org/2000/svg";

/** el("a", {href, class: "x", dataset: {id}}, "text", child, ...): attributes and children. */
export function el(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Appends strings (as text) and nodes; skips null, undefined and false. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/**
 * A search highlight fragment ("Navies of <em>India</em> and ...") as nodes: the text between
 * the highlighter's <em> and </em> goes into <mark>, everything else stays text. Any other
 * markup that was in the article shows as the literal characters it is.
 */
export function highlight(fragment) {
  const out = document.createDocumentFragment();
  let marked = false;
  for (const part of String(fragment).split(/(<\/?em>)/)) {
    if (part === "<em>") marked = true;
    else if (part === "</em>") marked = false;
    else if (part) out.append(marked ? el("mark", {}, part) : part);
  }
  return out;
}

/** The URL if it is http(s), else null (no javascript:, data: or relative surprises). */
export function safeUrl(url) {
  try {
    const parsed = new URL(String(url));
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link out of the page when the URL is safe, else the text alone. */
export function outLink(url, ...children) {
  const href = safeUrl(url);
  return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, ...children)
    : el("span", {}, ...children);
}

const absolute = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

export function formatTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : absolute.format(date);
}

export function relativeTime(value, now = Date.now()) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 0) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return formatTime(date);
}

/** <time> showing "5 min ago" (kept fresh by refreshTimes) with the full time as its title. */
export function timeEl(value) {
  if (!value) return null;
  return el("time", { datetime: value, title: formatTime(value), dataset: { rel: "1" } },
    relativeTime(value));
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll("time[data-rel]")) {
    node.textContent = relativeTime(node.getAttribute("datetime"), now);
  }
}

export function formatNumber(value, digits = 1) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "?";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

/** p-values: 0.0012 -> "0.0012", 1.2e-7 -> "1.2e-7". */
export function formatP(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "?";
  if (value === 0) return "0";
  return value >= 0.001 ? value.toPrecision(2) : value.toExponential(1).replace("e-", "e\u2212");
}
