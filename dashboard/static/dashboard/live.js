// Keeps every dashboard page live: a WebSocket receives each committed change (stations,
// connectors, transactions, reservations) and the page follows it without polling.
//
// The page never shows what a reload would not. Each part of a page that can change is a live
// region (an element marked data-live-region, with an id): when an event may change what a region
// holds (which rows a filtered or paged list shows, a station's sessions, its message log…), the
// page is fetched again and its regions are swapped for the server's rendering, with the server's
// words, times and time zone. Meanwhile the fields that change often (connection, connector
// status, energy, power, the chart) are updated in place at once, with the same words the server
// uses. Rows are never added in the browser, so a page keeps its filter and its page size.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const attr = (value) => CSS.escape(String(value));
const stationPage = () => $("#station-page");
const pageKind = () => document.body.dataset.page || "";
const stationOf = (e) => (e.kind === "station" ? e.id : e.station);
let chart = null;
let received = 0;

// --- the live socket ------------------------------------------------------------------------

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${document.body.dataset.liveUrl}`);
  const state = $("#live-state");
  socket.onopen = () => {
    attempt = 0;
    state.textContent = "● live";
    state.className = "live on";
    // What changed before the socket opened (or while it was down) was not pushed: re-render.
    regions.request();
    refreshSummary();
  };
  socket.onmessage = (message) => {
    const { events } = JSON.parse(message.data);
    events.forEach(receive);
    if (events.some((e) => e.kind !== "reservation")) refreshSummary();
    received += events.length;
    document.body.dataset.events = String(received);
  };
  socket.onclose = () => {
    state.textContent = "● reconnecting…";
    state.className = "live off";
    setTimeout(() => connect(attempt + 1), Math.min(1000 * 2 ** attempt, 15000));
  };
}

function receive(event) {
  inPlace[event.kind]?.(event);
  regions.replay?.push(event); // a re-render in flight may predate it: applied again after
  const key = changesRegions(event);
  if (key) regions.request(key === true ? undefined : key);
}

// Whether an event may change this page's regions: false, true, or (transaction list) a key to
// remember, once re-rendered, as "not on this page".
function changesRegions(e) {
  switch (pageKind()) {
    case "overview":
      return e.kind === "station" || e.kind === "connector" || e.kind === "alert";
    case "stations":
      return e.kind === "station" || e.kind === "connector";
    case "configuration":
    case "security":
      return stationOf(e) === stationPage().dataset.station;
    case "reservations":
      return e.kind === "reservation";
    case "campaign":
    case "firmware":
      return e.kind === "campaign" || e.kind === "firmware";
    case "station":
      return stationOf(e) === stationPage().dataset.station;
    case "transactions":
      return changesTransactionList(e);
    case "sites": // a session's power moves its circuits' load
      return e.kind === "transaction";
    default:
      return false;
  }
}

function changesTransactionList(e) {
  if (e.kind === "transaction_flag") return true;
  if (e.kind !== "transaction") return false;
  const row = $(`#transaction-table tr[data-transaction="${attr(e.id)}"]`);
  // On the page: only its end (or a reopening) changes the row, or takes it off a filtered list.
  if (row) return row.dataset.active !== String(e.active);
  // Not on the page: a new session, or one this page does not show (another page or filter).
  // The re-render tells which; a session it did not bring is not asked about again in that state.
  const key = `${e.id}:${e.active}`;
  return regions.settled.has(key) ? false : key;
}

// --- fields updated in place, at once (the re-render brings everything else) -------------------

const inPlace = {
  station(e) {
    if (!("connected" in e)) return;
    for (const badge of $$(`tr[data-station="${attr(e.id)}"] [data-field="connection"]`)) {
      setConnection(badge, e.connected);
    }
    const page = stationPage();
    if (page && page.dataset.station === e.id) setConnection($("#station-connection"), e.connected);
  },

  connector(e) {
    const boxes = [
      ...$$(`tr[data-station="${attr(e.station)}"] [data-field="connectors"]`),
      ...$$(`p[data-station="${attr(e.station)}"][data-field="connectors"]`),
    ];
    for (const box of boxes) {
      const badge = $(`[data-evse="${attr(e.evse_id)}"]`, box);
      if (!badge) continue; // a new EVSE: the re-render brings it, in order
      badge.className = `badge status-${e.status.toLowerCase()}`;
      badge.textContent = `${e.evse_id} · ${e.status}`;
    }
  },

  transaction(e) {
    for (const cell of $$(`[data-transaction="${attr(e.id)}"] [data-field="energy"]`)) {
      cell.textContent = Math.round(e.energy_wh);
    }
    if (e.power_w !== null && e.power_w !== undefined) {
      for (const cell of $$(`#active-transactions [data-transaction="${attr(e.id)}"] [data-field="power"]`)) {
        cell.textContent = (e.power_w / 1000).toFixed(2);
      }
    }
    const svg = $("#meter-chart");
    // The chart shows the session the server chose; a re-render switches it to another one.
    if (chart && svg && e.sampled_at && svg.dataset.transaction === String(e.id)) {
      chart.add(e.sampled_at, e.energy_wh / 1000);
    }
  },
};

function setConnection(badge, connected) {
  if (!badge) return;
  badge.textContent = connected ? "online" : "offline";
  badge.className = `badge ${connected ? "ok" : "off"}`;
}

// --- live regions: re-rendered by the server ----------------------------------------------------

const regions = {
  timer: null,
  inFlight: false,
  wanted: false,
  replay: null, // events received while a re-render is in flight
  pending: new Set(), // transaction keys the next re-render answers for
  settled: new Set(), // transaction keys known not to be on this page
  failures: 0,
  count: 0,

  delay() {
    const base =
      Number(stationPage()?.dataset.refreshDelay || document.body.dataset.refreshDelay) || 250;
    return this.failures ? Math.min(base * 2 ** this.failures, 15000) : base;
  },

  request(key) {
    if (!$("[data-live-region]")) return;
    this.wanted = true;
    if (key) this.pending.add(key);
    if (!this.inFlight && !this.timer) this.timer = setTimeout(() => this.run(), this.delay());
  },

  async run() {
    this.timer = null;
    this.wanted = false;
    this.inFlight = true;
    this.replay = [];
    const keys = this.pending;
    this.pending = new Set();
    const headers = { "X-Live-Refresh": "1" };
    const svg = $("#meter-chart");
    if (svg) headers["X-Live-Charting"] = svg.dataset.transaction || "";
    try {
      const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store", headers });
      if (!response.ok || response.redirected) throw new Error(`HTTP ${response.status}`);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      swapRegions(doc);
      for (const event of this.replay) inPlace[event.kind]?.(event);
      for (const key of keys) {
        const id = key.split(":")[0];
        if (!$(`[data-live-region] [data-transaction="${attr(id)}"]`)) this.settled.add(key);
      }
      this.failures = 0;
      this.count += 1;
      document.body.dataset.refreshed = String(this.count);
    } catch (error) {
      keys.forEach((key) => this.pending.add(key));
      this.wanted = true;
      this.failures += 1;
    } finally {
      this.inFlight = false;
      this.replay = null;
      if (this.wanted && !this.timer) this.timer = setTimeout(() => this.run(), this.delay());
    }
  },
};

function swapRegions(doc) {
  for (const old of $$("[data-live-region]")) {
    const fresh = doc.getElementById(old.id);
    if (!fresh) continue;
    const node = document.importNode(fresh, true);
    keepState(old, node);
    old.replaceWith(node);
  }
  const caption = $("#chart-caption");
  const svg = $("#meter-chart");
  if (chart && caption && svg && caption.dataset.charting !== svg.dataset.transaction) {
    const series = doc.getElementById("meter-series"); // sent when the chart must switch
    if (series) {
      chart.reset(JSON.parse(series.textContent).energy);
      svg.dataset.transaction = caption.dataset.charting;
    }
  }
}

// What the operator did in a region survives its re-render: an expanded frame, a chosen option.
function keepState(old, fresh) {
  for (const open of $$("details[open][id]", old)) {
    const same = fresh.querySelector(`#${attr(open.id)}`);
    if (same) same.open = true;
  }
  const selects = old.matches("select") ? [old] : $$("select[name]", old);
  for (const select of selects) {
    const same = fresh.matches("select") ? fresh : fresh.querySelector(`select[name="${attr(select.name)}"]`);
    if (same && Array.from(same.options).some((o) => o.value === select.value)) same.value = select.value;
  }
}

// --- summary cards: refreshed after changes, at most every 500 ms ----------------------------

let summaryTimer = null;
function refreshSummary() {
  if (!$("#summary") || summaryTimer) return;
  summaryTimer = setTimeout(async () => {
    summaryTimer = null;
    const response = await fetch(document.body.dataset.summaryUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const summary = await response.json();
    for (const card of $$("[data-summary]")) card.textContent = summary[card.dataset.summary];
    for (const key of ["faulted", "flagged_transactions"]) {
      $(`[data-summary="${key}"]`)?.closest(".card").classList.toggle("warn", summary[key] > 0);
    }
    const box = $("#connector-summary");
    const badges = Object.entries(summary.connectors).map(([status, count]) => {
      const badge = document.createElement("span");
      badge.className = `badge status-${status.toLowerCase()}`;
      badge.textContent = `${status}: ${count}`;
      return badge;
    });
    if (badges.length) {
      box.replaceChildren(...badges);
    } else {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "No connector has reported yet.";
      box.replaceChildren(none);
    }
  }, 500);
}

// --- actions ------------------------------------------------------------------------------------

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function sendAction(form) {
  const page = stationPage();
  const output = $("#action-result");
  const button = $("button", form);
  const station = page.dataset.station;
  const url = form.getAttribute("action")
    || `/stations/${encodeURIComponent(station)}/actions/${form.dataset.action}/`;
  output.className = "result waiting";
  output.textContent = `Waiting for ${station}…`;
  button.disabled = true;
  try {
    const response = await fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      credentials: "same-origin",
    });
    const answer = await response.json();
    // ok: the station accepted; warning: it answered but declined (Rejected…); error: no answer.
    output.className = `result ${answer.level || (answer.ok ? "ok" : "error")}`;
    output.textContent = answer.message;
  } catch (error) {
    output.className = "result error";
    output.textContent = `The request failed: ${error}`;
  } finally {
    button.disabled = false;
    for (const box of $$('input[name="confirm"]', form)) box.checked = false; // confirm each time
    regions.request(); // the message log shows the CALL and its answer
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const svg = $("#meter-chart");
  const series = $("#meter-series");
  if (svg && window.MeterChart) {
    chart = new MeterChart(svg, series ? JSON.parse(series.textContent).energy : []);
  }
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    sendAction(form);
  });
  connect();
});
