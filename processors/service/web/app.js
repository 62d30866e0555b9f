// The monitor page: alerts, live tag and watch streams, search, stories. Plain ES modules,
// no build step, no third-party code. Endpoints (all on the same origin):
//   GET /healthz                 every 10 s: the banners and the health dots
//   GET /tags                    the tag list offered when following a stream or filtering
//   GET /streams/{tag}           SSE "article" events (live.js resumes them)
//   GET /streams/watch/{name}    SSE "article" events of a saved watch
//   GET /alerts/recent, /alerts/stream (SSE "alert" events)
//   GET /search                  full text with filters and highlights
//   GET /stories, /stories/{id}  story list and the story view
// Alerts, stories and watches come with later servers: while their route answers 404 the
// page says they are not available rather than failing.

import { getJson, reason, routeMissing } from "./api.js";
import { append, clear, el, formatNumber, formatP, formatTime, highlight, outLink,
         refreshTimes, timeEl } from "./dom.js";
import { LiveStream } from "./live.js";
import { renderTimeline } from "./timeline.js";

const HEALTH_EVERY_MS = 10000;
const TAGS_EVERY_MS = 60000;
const STORIES_EVERY_MS = 60000;
const ALERTS_RETRY_MS = 60000;
const STREAM_BACKFILL_MS = 15 * 60 * 1000; // a newly followed stream shows the last 15 min
const STREAM_KEEP = 200; // articles kept on screen per stream
// Browsers open at most 6 connections to one server over HTTP/1.1, and every stream holds
// one: 4 streams + the alert stream leave one for search and the rest.
const MAX_STREAMS = 4;
const ALERTS_KEEP = 100;
const SEARCH_SIZE = 20;
const STORED_STREAMS = "newsflow.monitor.streams";
const RESUME_WITHIN_MS = 60 * 60 * 1000; // after a reload, show at most the last hour

const $ = (id) => document.getElementById(id);

// -- banners and health -------------------------------------------------------------------

const banners = new Map(); // key -> element

function setBanner(key, text) {
  const existing = banners.get(key);
  if (!text) {
    if (existing) existing.remove();
    banners.delete(key);
    return;
  }
  if (existing && existing.dataset.text === text) return; // do not re-announce
  const banner = el("p", { class: `banner banner-${key}`, dataset: { key, text } }, text);
  if (existing) existing.replaceWith(banner);
  else $("banners").append(banner);
  banners.set(key, banner);
}

function setDot(name, state, detail) {
  const dot = $(`health-${name}`);
  dot.dataset.state = state;
  const label = name === "api" ? "API" : name === "elasticsearch" ? "Elasticsearch" : "Kafka";
  dot.title = `${label}: ${state === "ok" ? "ok" : detail || "unreachable"}`;
  dot.setAttribute("aria-label", dot.title);
}

const health = { api: null, elasticsearch: null, kafka: null };
const healthListeners = [];

async function checkHealth() {
  const result = await getJson("/healthz", {}, { timeoutMs: 8000 });
  const body = result.body; // 200 or 503, the same shape
  const apiUp = result.status !== 0;
  const esUp = apiUp && Boolean(body && body.elasticsearch && body.elasticsearch.ok);
  const kafkaUp = apiUp && Boolean(body && body.kafka && body.kafka.ok);
  const before = { ...health };
  Object.assign(health, { api: apiUp, elasticsearch: esUp, kafka: kafkaUp });
  setDot("api", apiUp ? "ok" : "down");
  setDot("elasticsearch", !apiUp ? "unknown" : esUp ? "ok" : "down",
    body && body.elasticsearch && body.elasticsearch.error);
  setDot("kafka", !apiUp ? "unknown" : kafkaUp ? "ok" : "down");
  setBanner("api", apiUp ? null
    : "The newsflow API is not answering. Retrying every 10 s; live streams resume where "
      + "they stopped once it is back.");
  setBanner("elasticsearch", !apiUp || esUp ? null
    : "Elasticsearch is unreachable: search, tag counts and stories are unavailable until it "
      + "is back. Live streams go on.");
  setBanner("kafka", !apiUp || kafkaUp ? null
    : "Kafka is unreachable: live streams and alerts are paused; they resume where they "
      + "stopped when it is back.");
  for (const listener of healthListeners) listener(before, { ...health });
}

function onHealthChange(listener) {
  healthListeners.push(listener);
}

// -- tags ------------------------------------------------------------------------------

let tagsLoaded = false;

async function loadTags() {
  const result = await getJson("/tags");
  if (!result.data) return false;
  const options = $("tag-options");
  clear(options);
  for (const tag of result.data.tags || []) {
    options.append(el("option", { value: tag.tag },
      `${tag.label || tag.tag} (${formatNumber(tag.articles)})`));
  }
  tagsLoaded = true;
  document.body.dataset.tags = "loaded";
  return true;
}

// -- articles (streams and search share the look) ----------------------------------------

function tagChips(article, { onPick } = {}) {
  const tags = (article.tags || []).map((t) => (typeof t === "string" ? t : t.tag))
    .filter(Boolean);
  if (!tags.length) return null;
  return el("ul", { class: "chips", "aria-label": "Tags" },
    tags.map((tag) => el("li", {}, onPick
      ? el("button", { type: "button", class: "chip", title: `Search tag ${tag}`,
                       onclick: () => onPick(tag) }, tag)
      : el("span", { class: "chip" }, tag))));
}

function entityLine(article, limit = 4) {
  const names = [];
  for (const entity of article.entities || []) {
    const name = entity.canonical || entity.text;
    if (name && !names.includes(name)) names.push(name);
    if (names.length >= limit) break;
  }
  return names.length ? el("p", { class: "entities" }, names.join(" · ")) : null;
}

function articleMeta(article) {
  return el("p", { class: "meta" },
    el("span", { class: "source" }, article.source || ""), " · ",
    timeEl(article.published_at) || "");
}

// -- live streams ------------------------------------------------------------------------

const streams = new Map(); // "tag:x" / "watch:y" -> {stream, panel, list}

const STATE_TEXT = {
  connecting: "connecting…", live: "live", reconnecting: "reconnecting…",
  error: "interrupted", unavailable: "not available", failed: "stopped",
};

function streamKey(kind, name) {
  return `${kind}:${name}`;
}

// The followed streams and when each last received something, so that a reloaded page (or
// a browser restarted within the hour) shows everything since then, not only the last 15
// minutes.
function saveStreams() {
  const chosen = [...streams.values()].map(({ kind, name, lastSeen }) => (
    { kind, name, lastSeen: lastSeen() }));
  try {
    localStorage.setItem(STORED_STREAMS, JSON.stringify(chosen));
  } catch {
    // storage may be disabled: following still works for this page's life
  }
}

let saveTimer = null;

function saveStreamsSoon() {
  if (saveTimer === null) {
    saveTimer = setTimeout(() => { saveTimer = null; saveStreams(); }, 1000);
  }
}

function restoreStreams() {
  let chosen = [];
  try {
    chosen = JSON.parse(localStorage.getItem(STORED_STREAMS) || "[]");
  } catch {
    chosen = [];
  }
  const now = Date.now();
  for (const saved of Array.isArray(chosen) ? chosen : []) {
    const { kind, name, lastSeen } = saved || {};
    if ((kind !== "tag" && kind !== "watch") || typeof name !== "string") continue;
    // From a minute before the last article this page saw (clocks differ a little), at
    // least the usual 15 minutes, at most an hour.
    const since = typeof lastSeen === "number"
      ? Math.max(now - RESUME_WITHIN_MS, Math.min(now - STREAM_BACKFILL_MS, lastSeen - 60000))
      : now - STREAM_BACKFILL_MS;
    follow(kind, name, { since });
  }
}

function follow(kind, name, { since = Date.now() - STREAM_BACKFILL_MS } = {}) {
  name = name.trim();
  if (!name) return null;
  const key = streamKey(kind, name);
  if (streams.has(key)) {
    streams.get(key).panel.querySelector("h3").focus();
    return streams.get(key);
  }
  const limit = $("follow-limit");
  if (streams.size >= MAX_STREAMS) {
    limit.hidden = false;
    limit.textContent = `At most ${MAX_STREAMS} streams at once (each keeps a connection `
      + "open, and the browser allows only a few to one server): stop following one first.";
    return null;
  }
  limit.hidden = true;
  const title = el("h3", { tabindex: "-1" }, kind === "watch" ? `watch: ${name}` : name);
  const status = el("span", { class: "status", dataset: { state: "connecting" } },
    STATE_TEXT.connecting);
  const count = el("span", { class: "count" }, "0 articles");
  const note = el("p", { class: "stream-note", hidden: true });
  const empty = el("p", { class: "empty" }, "Waiting for articles: the recent ones first, "
    + "then each new one as it arrives.");
  const list = el("ol", { class: "articles", "aria-live": "polite",
                          "aria-label": `Articles on ${name}` });
  const close = el("button", { type: "button", class: "close",
                               "aria-label": `Stop following ${name}` }, "×");
  const panel = el("article", { class: "stream", dataset: { kind, name, state: "connecting",
                                                            received: "0", duplicates: "0" } },
    el("div", { class: "stream-head" }, title, status, count, close), note, empty, list);
  const path = kind === "watch" ? `/streams/watch/${encodeURIComponent(name)}`
    : `/streams/${encodeURIComponent(name)}`;
  let shown = 0;
  const stream = new LiveStream({
    path,
    event: "article",
    keyOf: (article) => article.id,
    initialParams: { since: new Date(since).toISOString() },
    onItem: (article) => {
      empty.hidden = true;
      list.prepend(streamItem(article));
      while (list.children.length > STREAM_KEEP) list.lastElementChild.remove();
      shown += 1;
      count.textContent = `${shown} article${shown === 1 ? "" : "s"}`;
    },
    onStats: (s) => {
      panel.dataset.received = String(s.received);
      panel.dataset.duplicates = String(s.duplicates);
      panel.dataset.lastEventId = s.lastId || "";
      panel.dispatchEvent(new Event("article-shown"));
    },
    onState: (state, message) => {
      panel.dataset.state = state;
      status.dataset.state = state;
      status.textContent = STATE_TEXT[state] || state;
      let text = message;
      if (state === "unavailable") {
        text = kind === "watch" ? "Watch streams are not available on this server yet."
          : `There is no stream for ${name}.`;
      } else if (state === "failed" && kind === "watch") {
        text = `No watch named “${name}”${message ? ` (${message})` : ""}.`;
      }
      note.hidden = !text;
      note.textContent = text || "";
    },
  });
  close.addEventListener("click", () => unfollow(key));
  let seenAt = null;
  const entry = { kind, name, stream, panel, lastSeen: () => seenAt };
  panel.addEventListener("article-shown", () => { seenAt = Date.now(); saveStreamsSoon(); });
  streams.set(key, entry);
  $("stream-list").prepend(panel);
  $("streams-empty").hidden = true;
  saveStreams();
  stream.start();
  return entry;
}

function unfollow(key) {
  const entry = streams.get(key);
  if (!entry) return;
  entry.stream.stop();
  entry.panel.remove();
  streams.delete(key);
  $("streams-empty").hidden = streams.size > 0;
  $("follow-limit").hidden = true;
  saveStreams();
  $("follow-tag-input").focus();
}

function streamItem(article) {
  return el("li", { class: "article", dataset: { id: article.id } },
    el("p", { class: "title" }, outLink(article.url, article.title || article.url || "")),
    articleMeta(article),
    tagChips(article),
    entityLine(article));
}

// -- alerts --------------------------------------------------------------------------------

const alerts = { items: new Map(), stream: null, unseen: 0, available: null };

function alertKey(key) {
  return String(key || "").split("|").join(" · ");
}

function alertItem(alert) {
  const ratio = typeof alert.count === "number" && typeof alert.baseline === "number"
    && alert.baseline > 0 ? ` (${formatNumber(alert.count / alert.baseline)}×)` : "";
  const domains = Array.isArray(alert.source_domains) ? alert.source_domains : [];
  const articles = Array.isArray(alert.article_ids) ? alert.article_ids : [];
  const storyLink = alert.story_id
    ? el("a", { class: "story-link", href: `#story/${encodeURIComponent(alert.story_id)}` },
      "Open story")
    : null;
  const more = articles.length
    ? el("button", { type: "button", class: "link", "aria-expanded": "false",
                     onclick: (event) => showAlertArticles(event.currentTarget, articles) },
      `${articles.length} article${articles.length === 1 ? "" : "s"}`)
    : null;
  return el("li", { class: "alert", dataset: { id: alert.alert_id, at: alert.at || "" } },
    el("p", { class: "alert-key" }, alertKey(alert.key)),
    el("p", { class: "evidence" },
      el("strong", {}, `${formatNumber(alert.count)} stories`),
      ` vs baseline ${formatNumber(alert.baseline)}${ratio} · p = ${formatP(alert.p)}`),
    el("p", { class: "sources" },
      `${formatNumber(alert.sources)} source${alert.sources === 1 ? "" : "s"}`,
      domains.length ? `: ${domains.slice(0, 6).join(", ")}${domains.length > 6 ? ", …" : ""}`
        : ""),
    el("p", { class: "meta" }, timeEl(alert.at), storyLink ? " · " : "", storyLink,
      more ? " · " : "", more));
}

async function showAlertArticles(button, ids) {
  if (button.getAttribute("aria-expanded") === "true") return;
  button.setAttribute("aria-expanded", "true");
  const holder = el("ul", { class: "alert-articles", "aria-label": "The alert's articles" });
  button.closest("li.alert").append(holder);
  for (const id of ids.slice(0, 10)) {
    const result = await getJson(`/articles/${encodeURIComponent(id)}`);
    const article = result.data;
    holder.append(el("li", {}, article ? outLink(article.url, article.title || id)
      : `${id} (${reason(result)})`, article ? ` · ${article.source || ""}` : ""));
  }
}

function addAlert(alert, { fresh = false } = {}) {
  if (!alert || !alert.alert_id || alerts.items.has(alert.alert_id)) return;
  const item = alertItem(alert);
  if (fresh) item.classList.add("fresh");
  alerts.items.set(alert.alert_id, item);
  // Newest first, whatever order they arrive in.
  const list = $("alert-list");
  const at = Date.parse(alert.at) || 0;
  const after = [...list.children].find((li) => (Date.parse(li.dataset.at) || 0) < at);
  list.insertBefore(item, after || null);
  while (list.children.length > ALERTS_KEEP) {
    const last = list.lastElementChild;
    alerts.items.delete(last.dataset.id);
    last.remove();
  }
  $("alerts-empty").hidden = true;
  if (fresh && document.hidden) {
    alerts.unseen += 1;
    document.title = `(${alerts.unseen}) newsflow monitor`;
  }
}

function setAlertsStatus(state, text) {
  const status = $("alerts-status");
  status.dataset.state = state;
  status.textContent = text;
}

async function loadAlerts() {
  const result = await getJson("/alerts/recent", { size: 50 });
  const empty = $("alerts-empty");
  if (!result.data) {
    alerts.available = false;
    empty.hidden = false;
    if (routeMissing(result)) {
      empty.textContent = "Alerts are not available on this server yet.";
      setAlertsStatus("unavailable", "not available");
    } else {
      empty.textContent = `Alerts could not be loaded (${reason(result)}). Retrying…`;
      setAlertsStatus("error", "interrupted");
    }
    setTimeout(loadAlerts, ALERTS_RETRY_MS);
    return;
  }
  alerts.available = true;
  for (const alert of result.data.alerts || []) addAlert(alert);
  if (!alerts.items.size) {
    empty.hidden = false;
    empty.textContent = "No alerts yet. A topic that suddenly gets far more stories than "
      + "usual, from several independent sources, shows up here.";
  }
  if (!alerts.stream) {
    alerts.stream = new LiveStream({
      path: "/alerts/stream",
      event: "alert",
      keyOf: (alert) => alert.alert_id,
      onItem: (alert) => addAlert(alert, { fresh: true }),
      onState: (state, message) => {
        setAlertsStatus(state, STATE_TEXT[state] || state);
        $("alerts-status").title = message || "";
      },
    });
    alerts.stream.start();
  }
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && alerts.unseen) {
    alerts.unseen = 0;
    document.title = "newsflow monitor";
  }
});

// -- search -------------------------------------------------------------------------------

const search = { params: null, offset: 0, total: 0, generation: 0 };

function searchParamsFromForm() {
  const form = $("search-form");
  const data = new FormData(form);
  const params = {};
  for (const name of ["q", "tag", "entity", "source", "since"]) {
    const value = String(data.get(name) || "").trim();
    if (value) params[name] = value;
  }
  return params;
}

function fillForm(params) {
  for (const name of ["q", "tag", "entity", "source", "since"]) {
    $(`search-${name}`).value = params[name] || "";
  }
}

async function runSearch(params, { more = false } = {}) {
  const results = $("search-results");
  const summary = $("search-summary");
  const moreButton = $("search-more");
  // Only the latest search may fill the list: an answer to an earlier one is dropped.
  const generation = ++search.generation;
  if (!more) {
    search.params = params;
    search.offset = 0;
    clear(results);
    const query = new URLSearchParams(params).toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`
      + location.hash);
  }
  summary.dataset.state = "loading";
  summary.textContent = "Searching…";
  moreButton.hidden = true;
  const result = await getJson("/search", { ...search.params, size: SEARCH_SIZE,
                                            offset: search.offset });
  if (generation !== search.generation) return;
  if (!result.data && result.status === 502 && /index_not_found/.test(result.detail || "")) {
    // Before the worker indexed its first article there is no index to search.
    summary.dataset.state = "empty";
    summary.textContent = "No articles indexed yet.";
    return;
  }
  if (!result.data) {
    summary.dataset.state = "error";
    summary.textContent = result.status === 503
      ? "Search is unavailable: Elasticsearch is unreachable. Try again when it is back."
      : result.status === 422 ? `Check the filters: ${result.detail}`
        : `Search failed (${reason(result)}).`;
    return;
  }
  const { total, hits } = result.data;
  search.total = total;
  search.offset += hits.length;
  for (const hit of hits) results.append(searchItem(hit));
  const filtered = Object.keys(search.params).length > 0;
  summary.dataset.state = total ? "results" : "empty";
  summary.textContent = !total
    ? (filtered ? "No articles match. Try fewer words or filters." : "No articles indexed yet.")
    : `${total} article${total === 1 ? "" : "s"}${filtered ? " match" : ", newest first"}`
      + (total > search.offset ? ` (showing ${search.offset})` : "");
  moreButton.hidden = search.offset >= total;
}

function searchItem(hit) {
  const highlights = hit.highlights || {};
  const title = highlights.title && highlights.title.length ? highlight(highlights.title[0])
    : hit.title || hit.url || "";
  const fragments = [...(highlights.summary || []), ...(highlights.content || [])].slice(0, 3);
  let snippet;
  if (fragments.length) {
    snippet = el("p", { class: "snippet" });
    fragments.forEach((fragment, i) => {
      if (i) snippet.append(" … ");
      snippet.append(highlight(fragment));
    });
  } else if (hit.summary) {
    const text = hit.summary.length > 240 ? `${hit.summary.slice(0, 240)}…` : hit.summary;
    snippet = el("p", { class: "snippet" }, text);
  }
  return el("li", { class: "hit", dataset: { id: hit.id } },
    el("p", { class: "title" }, outLink(hit.url, title)),
    articleMeta(hit),
    snippet,
    tagChips(hit, { onPick: (tag) => { fillForm({ ...search.params, tag });
                                        runSearch(searchParamsFromForm()); } }),
    entityLine(hit),
    hit.story_id ? el("p", { class: "meta" }, el("a", {
      href: `#story/${encodeURIComponent(hit.story_id)}` }, "Open story")) : null);
}

// -- stories -------------------------------------------------------------------------------

let storiesSort = "newest";
let storiesGeneration = 0;

async function loadStories() {
  const generation = ++storiesGeneration;
  const result = await getJson("/stories", { sort: storiesSort, size: 15 });
  if (generation !== storiesGeneration) return; // a later load (or another order) is coming
  const empty = $("stories-empty");
  const list = $("story-list");
  if (!result.data) {
    clear(list);
    empty.hidden = false;
    empty.textContent = routeMissing(result) ? "Stories are not available on this server yet."
      : result.status === 503 ? "Stories are unavailable: Elasticsearch is unreachable."
        : `Stories could not be loaded (${reason(result)}).`;
    return;
  }
  const stories = result.data.stories || [];
  clear(list);
  empty.hidden = stories.length > 0;
  empty.textContent = "No stories yet.";
  for (const story of stories) {
    list.append(el("li", { class: "story-item", dataset: { id: story.story_id } },
      el("a", { href: `#story/${encodeURIComponent(story.story_id)}` },
        story.title || story.story_id),
      el("p", { class: "meta" },
        `${formatNumber(story.article_count)} articles · `
        + `${formatNumber(story.independent_sources)} independent sources · `,
        timeEl(story.last_at))));
  }
}

function setStoriesSort(sort) {
  storiesSort = sort;
  $("stories-newest").setAttribute("aria-pressed", String(sort === "newest"));
  $("stories-biggest").setAttribute("aria-pressed", String(sort === "biggest"));
  loadStories();
}

let storyOpener = null;
let storyGeneration = 0;

async function openStory(storyId) {
  const generation = ++storyGeneration;
  const dialog = $("story");
  const body = clear($("story-body"));
  $("story-title").textContent = "Story";
  if (!dialog.open) {
    storyOpener = document.activeElement;
    dialog.showModal();
  }
  dialog.dataset.state = "loading";
  body.append(el("p", { class: "empty" }, "Loading the story…"));
  const result = await getJson(`/stories/${encodeURIComponent(storyId)}`);
  if (generation !== storyGeneration) return;
  clear(body);
  if (!result.data) {
    dialog.dataset.state = "error";
    body.append(el("p", { class: "empty" }, routeMissing(result)
      ? "Stories are not available on this server yet."
      : result.status === 404 ? "There is no such story (it may have expired)."
        : result.status === 503 ? "Stories are unavailable: Elasticsearch is unreachable."
          : `The story could not be loaded (${reason(result)}).`));
    $("story-title").focus();
    return;
  }
  renderStory(body, result.data);
  dialog.dataset.state = "loaded";
  $("story-title").focus();
}

function entityName(entity) {
  if (typeof entity === "string") return entity;
  if (!entity || typeof entity !== "object") return "";
  const name = entity.name || entity.canonical || entity.text || "";
  const n = entity.articles ?? entity.count;
  return typeof n === "number" ? `${name} (${n})` : name;
}

function renderStory(body, { story = {}, articles = [] }) {
  $("story-title").textContent = story.title || "Story";
  const byId = new Map(articles.map((a) => [a.id, a]));
  const copies = articles.filter((a) => a.dup_of).length;
  append(body, [
    el("p", { class: "meta story-meta" },
      `${formatNumber(story.article_count ?? articles.length)} articles`,
      copies ? ` (${copies} syndicated cop${copies === 1 ? "y" : "ies"})` : "", " · ",
      el("strong", {}, `${formatNumber(story.independent_sources)} independent sources`),
      " · ", formatTime(story.first_at), " – ", formatTime(story.last_at)),
    (story.source_domains || []).length
      ? el("p", { class: "sources" }, `Sources: ${story.source_domains.join(", ")}`) : null,
    tagChips({ tags: story.tags || [] }),
    (story.top_entities || []).length
      ? el("p", { class: "entities" },
        story.top_entities.map(entityName).filter(Boolean).slice(0, 10).join(" · "))
      : null,
    el("h3", {}, "Timeline"),
    renderTimeline(articles, { from: story.first_at, to: story.last_at }),
    el("h3", {}, "Articles"),
    el("ol", { class: "articles story-articles" }, [...articles]
      .sort((a, b) => (Date.parse(a.published_at) || 0) - (Date.parse(b.published_at) || 0))
      .map((article) => el("li", { class: article.dup_of ? "article copy" : "article",
                                   dataset: { id: article.id } },
        el("p", { class: "title" }, outLink(article.url, article.title || article.url || "")),
        articleMeta(article),
        article.dup_of ? el("p", { class: "copy-of" }, "copy of: ",
          byId.has(article.dup_of) ? byId.get(article.dup_of).title || article.dup_of
            : article.dup_of) : null))),
  ]);
}

function closeStory() {
  const dialog = $("story");
  if (dialog.open) dialog.close();
}

function routeHash() {
  const match = /^#story\/(.+)$/.exec(location.hash);
  if (match) openStory(decodeURIComponent(match[1]));
  else closeStory();
}

// -- wiring -------------------------------------------------------------------------------

function wire() {
  $("follow-tag").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("follow-tag-input");
    if (follow("tag", input.value.toLowerCase())) input.value = "";
  });
  $("follow-watch").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("follow-watch-input");
    if (follow("watch", input.value)) input.value = "";
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch(searchParamsFromForm());
  });
  $("search-more").addEventListener("click", () => runSearch(search.params, { more: true }));
  $("stories-newest").addEventListener("click", () => setStoriesSort("newest"));
  $("stories-biggest").addEventListener("click", () => setStoriesSort("biggest"));
  $("story-close").addEventListener("click", closeStory);
  $("story").addEventListener("close", () => {
    if (location.hash.startsWith("#story/")) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    if (storyOpener && document.contains(storyOpener)) storyOpener.focus();
    storyOpener = null;
  });
  window.addEventListener("hashchange", routeHash);
  window.addEventListener("pagehide", saveStreams);
  window.addEventListener("online", () => {
    for (const { stream } of streams.values()) stream.retryNow();
    if (alerts.stream) alerts.stream.retryNow();
    checkHealth();
  });
  onHealthChange((before, now) => {
    // Back from an outage: fill what depends on Elasticsearch again.
    if (now.elasticsearch && before.elasticsearch === false) {
      if (!tagsLoaded) loadTags();
      loadStories();
    }
  });
}

function start() {
  wire();
  const initial = Object.fromEntries(new URLSearchParams(location.search));
  fillForm(initial);
  checkHealth();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  loadTags();
  setInterval(loadTags, TAGS_EVERY_MS); // counts change; and a failed first load retries
  restoreStreams();
  loadAlerts();
  runSearch(searchParamsFromForm());
  loadStories();
  setInterval(loadStories, STORIES_EVERY_MS);
  setInterval(() => refreshTimes(), 30000);
  routeHash();
  document.body.dataset.ready = "true";
}

start();
