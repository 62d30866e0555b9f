// A Server-Sent Events stream that resumes where it stopped: no gap, no repeat.
//
// The server gives every event an id: the stream position after it. EventSource keeps the
// last one and sends it as Last-Event-ID when it reconnects by itself (a dropped connection,
// a restarted API). When EventSource gives up instead (the server answered with an error
// status, say 503 while Kafka is down), this class asks the server why, waits, and opens a
// new EventSource from the same position (`last_event_id`). Before the first event there is
// no position yet: the first connection asks for everything since the moment the stream was
// followed (`since`), and so does a new connection made before any event arrived, so nothing
// published in between is lost. Items are deduplicated by their id on top of that.

const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;
// Asking why must not wait as long as a stream that cannot open (the server tries Kafka for
// 30 s): no answer in time counts as "try again later".
const PROBE_TIMEOUT_MS = 5000;

export class LiveStream {
  /**
   * path: the stream's URL path; event: the SSE event type that carries the items
   * ("article", "alert"); keyOf(item): the id to deduplicate on; initialParams: query of a
   * connection made without a position; onItem(item): a new item; onState(state, message):
   * "connecting", "live", "reconnecting", "error" (retrying), "unavailable" (the server has no
   * such route: not retried) or "failed" (not retried); onStats(stream) after every event.
   */
  constructor({ path, event, keyOf, initialParams = {}, onItem, onState, onStats,
                memory = 5000 }) {
    this.path = path;
    this.event = event;
    this.keyOf = keyOf;
    this.initialParams = initialParams;
    this.onItem = onItem;
    this.onState = onState || (() => {});
    this.onStats = onStats || (() => {});
    this.memory = memory;
    this.seen = new Set();
    this.lastId = null;
    this.received = 0;
    this.duplicates = 0;
    this.malformed = 0;
    this.failures = 0;
    this.state = "idle";
    this.source = null;
    this.timer = null;
    this.probe = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.probe) this.probe.abort();
    if (this.source) this.source.close();
    this.source = null;
  }

  /** Try again now (e.g. the browser came back online) if waiting to retry. */
  retryNow() {
    if (!this.stopped && this.state === "error") {
      clearTimeout(this.timer);
      this.connect();
    }
  }

  url() {
    const params = new URLSearchParams(this.lastId ? { last_event_id: this.lastId }
      : this.initialParams);
    const query = params.toString();
    return query ? `${this.path}?${query}` : this.path;
  }

  connect() {
    if (this.stopped) return;
    const source = new EventSource(this.url());
    this.source = source;
    this.setState("connecting");
    source.addEventListener("open", () => {
      if (source !== this.source) return;
      this.failures = 0;
      this.setState("live");
    });
    source.addEventListener(this.event, (message) => {
      if (source === this.source) this.receive(message);
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        this.recover();
      } else {
        this.setState("reconnecting", "connection lost: reconnecting…");
      }
    });
  }

  receive(message) {
    if (message.lastEventId) this.lastId = message.lastEventId;
    let item;
    try {
      item = JSON.parse(message.data);
    } catch {
      this.malformed += 1;
      return;
    }
    this.received += 1;
    const key = this.keyOf(item);
    if (this.seen.has(key)) {
      this.duplicates += 1;
    } else {
      this.remember(key);
      this.onItem(item);
    }
    this.onStats(this);
  }

  remember(key) {
    this.seen.add(key);
    if (this.seen.size > this.memory) {
      this.seen.delete(this.seen.values().next().value);
    }
  }

  /** EventSource gave up: find out why, then retry later or stop for good. */
  async recover() {
    if (this.source) this.source.close();
    this.source = null;
    if (this.stopped) return;
    const { status, detail } = await this.ask(this.url());
    if (this.stopped) return;
    if (status === 404) {
      const missing = detail === "Not Found";
      this.setState(missing ? "unavailable" : "failed", missing ? null : detail);
      return;
    }
    if (status === 400 && this.lastId) {
      this.lastId = null; // a position the server cannot read: start from `since` instead
    }
    this.failures += 1;
    const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    const why = status === 0 ? "the API is not answering"
      : status === -1 ? "the stream did not answer"
        : status === 200 ? "the stream ended"
          : status >= 500 ? `the stream is unavailable (${detail || status})`
            : `${status} ${detail || ""}`.trim();
    this.setState("error", `${why}: retrying in ${Math.round(wait / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  async ask(url) {
    const controller = new AbortController();
    this.probe = controller;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, PROBE_TIMEOUT_MS);
    try {
      const response = await fetch(url, { signal: controller.signal,
                                          headers: { Accept: "text/event-stream" } });
      let detail = null;
      if (!response.ok) {
        try {
          const body = await response.json();
          detail = typeof body.detail === "string" ? body.detail : null;
        } catch {
          detail = response.statusText;
        }
      }
      return { status: response.status, detail };
    } catch {
      return { status: timedOut ? -1 : 0, detail: null };
    } finally {
      clearTimeout(timer);
      controller.abort(); // a 200 is a stream: only its status was wanted
      this.probe = null;
    }
  }

  setState(state, message = null) {
    this.state = state;
    this.onState(state, message);
  }
}
