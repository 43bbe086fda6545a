// A live page's one connection to the events: an EventSource on the frontend's
// /events/stream (relayed from the backend with the session's token).
//
// The page holds an element with data-live: data-live-url (the stream), data-live-query
// (the metadata query, JSON: {"kind": [...], "sensor": [...]}), data-live-from (the
// newest event id when the page was made: nothing after it is missed) and optionally
// data-live-replay (how many events before it to replay, e.g. for a list of recent
// activity). Each event is dispatched on document as a "dtbase:event" CustomEvent whose
// detail is the event ({id, time, kind, meta}) plus `replayed` (true for the events
// from before the page was made).
//
// The [data-live-status] element says "live" or "reconnecting" (its data-state too; the
// browser tests read it). The browser reconnects by itself after a dropped stream, with
// the last id seen; a refused one (503 when the frontend is busy, 401 when the session
// ended) is tried again here after a growing delay, from the last id seen. A tab hidden
// for a minute lets its stream go (it holds a server thread) and resumes when shown.
"use strict";

(() => {
  const HIDDEN_GRACE_MS = 60_000;
  const FIRST_RETRY_MS = 2_000;
  const LAST_RETRY_MS = 60_000;

  function start() {
    const root = document.querySelector("[data-live]");
    if (!root || !window.EventSource) {
      return;
    }
    const status = document.querySelector("[data-live-status]");
    const query = JSON.parse(root.dataset.liveQuery || "{}");
    const kinds = query.kind || [];
    const madeAt = Number(root.dataset.liveFrom || 0);
    let lastId = Math.max(0, madeAt - Number(root.dataset.liveReplay || 0));
    let source = null;
    let retryTimer = null;
    let hiddenTimer = null;
    let delay = FIRST_RETRY_MS;

    function say(state, text) {
      if (status) {
        status.dataset.state = state;
        status.textContent = text;
      }
    }

    function url() {
      const params = new URLSearchParams();
      for (const [field, values] of Object.entries(query)) {
        [].concat(values).forEach((value) => params.append(field, String(value)));
      }
      params.set("from", String(lastId));
      return `${root.dataset.liveUrl}?${params}`;
    }

    function heard(message) {
      const event = JSON.parse(message.data);
      if (event.id <= lastId) {
        return; // already seen
      }
      lastId = Math.max(lastId, event.id);
      root.dataset.liveLast = String(lastId);
      event.replayed = event.id <= madeAt;
      document.dispatchEvent(new CustomEvent("dtbase:event", { detail: event }));
    }

    function connect() {
      clearTimeout(retryTimer);
      source = new EventSource(url());
      kinds.forEach((kind) => source.addEventListener(kind, heard));
      source.addEventListener("message", heard); // events the stream sends without a kind
      source.addEventListener("open", () => {
        delay = FIRST_RETRY_MS;
        say("live", "live");
      });
      source.addEventListener("error", () => {
        say("reconnecting", "reconnecting…");
        if (source.readyState === EventSource.CLOSED) {
          // Refused (not a dropped stream, which the browser retries itself): try later.
          source = null;
          retryTimer = setTimeout(connect, delay * (0.75 + Math.random() / 2));
          delay = Math.min(delay * 2, LAST_RETRY_MS);
        }
      });
    }

    function disconnect() {
      clearTimeout(retryTimer);
      if (source) {
        source.close();
        source = null;
      }
      say("paused", "paused");
    }

    document.addEventListener("visibilitychange", () => {
      clearTimeout(hiddenTimer);
      if (document.hidden) {
        hiddenTimer = setTimeout(disconnect, HIDDEN_GRACE_MS);
      } else if (!source) {
        say("reconnecting", "reconnecting…");
        connect();
      }
    });
    window.addEventListener("pagehide", disconnect);
    say("reconnecting", "connecting…");
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
