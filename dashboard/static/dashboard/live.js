// Keeps every dashboard page live: a WebSocket receives each committed change (stations,
// connectors, transactions, reservations) and the page updates in place, without polling or
// reloading. Buttons send station actions and show the station's answer.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const attr = (value) => CSS.escape(String(value));
const stationPage = () => $("#station-page");
let chart = null;

// --- the live socket ------------------------------------------------------------------------

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${document.body.dataset.liveUrl}`);
  const state = $("#live-state");
  socket.onopen = () => {
    attempt = 0;
    state.textContent = "● live";
    state.className = "live on";
  };
  socket.onmessage = (message) => {
    const { events } = JSON.parse(message.data);
    events.forEach(apply);
    if (events.some((e) => e.kind !== "reservation")) refreshSummary();
  };
  socket.onclose = () => {
    state.textContent = "● reconnecting…";
    state.className = "live off";
    setTimeout(() => connect(attempt + 1), Math.min(1000 * 2 ** attempt, 15000));
  };
}

const handlers = {
  station(e) {
    for (const row of rowsFor(e.id, "connected" in e)) {
      if ("connected" in e) setConnection($('[data-field="connection"]', row), e.connected);
      if (e.protocol) $('[data-field="protocol"]', row).textContent = e.protocol === "1.6" ? "OCPP 1.6J" : "OCPP 2.0.1";
      if (e.vendor !== undefined) $('[data-field="vendor"]', row).textContent = `${e.vendor} ${e.model}`;
    }
    const page = stationPage();
    if (page && page.dataset.station === e.id) {
      if ("connected" in e) setConnection($('h1 [data-field="connection"]'), e.connected);
      if (e.vendor !== undefined) $('[data-field="vendor"]', page).textContent = `${e.vendor} ${e.model}`;
      if (e.firmware_version !== undefined) $('[data-field="firmware"]', page).textContent = e.firmware_version || "—";
      if (e.status) $('[data-field="status"]', page).textContent = e.status;
    }
  },

  connector(e) {
    const containers = [
      ...rowsFor(e.station, true).map((row) => $('[data-field="connectors"]', row)),
      ...$$(`p[data-station="${attr(e.station)}"][data-field="connectors"]`),
    ];
    for (const box of containers) {
      $("[data-empty]", box)?.remove();
      let badge = $(`[data-evse="${attr(e.evse_id)}"]`, box);
      if (!badge) {
        badge = document.createElement("span");
        badge.dataset.evse = e.evse_id;
        box.appendChild(badge);
      }
      badge.className = `badge status-${e.status.toLowerCase()}`;
      badge.textContent = `${e.evse_id} · ${e.status}`;
      badge.title = `EVSE ${e.evse_id}: ${e.status}`;
    }
  },

  transaction(e) {
    for (const cell of $$(`[data-transaction="${attr(e.id)}"] [data-field="energy"]`)) {
      cell.textContent = Math.round(e.energy_wh);
    }
    const page = stationPage();
    if (!page || page.dataset.station !== e.station) return;
    let card = $(`#active-transactions [data-transaction="${attr(e.id)}"]`);
    if (!card && e.active) {
      $("#no-active")?.remove();
      card = document.createElement("div");
      card.className = "card wide";
      card.dataset.transaction = e.id;
      card.innerHTML = '<span class="label"></span><span class="value"><span data-field="energy"></span> Wh</span>'
        + '<span class="value small"><span data-field="power">—</span> kW</span>';
      $(".label", card).textContent = `EVSE ${e.evse_id} · transaction started`;
      $("#active-transactions").appendChild(card);
    }
    if (card) {
      $('[data-field="energy"]', card).textContent = Math.round(e.energy_wh);
      if (e.power_w !== null && e.power_w !== undefined) $('[data-field="power"]', card).textContent = (e.power_w / 1000).toFixed(2);
      if (!e.active) card.classList.add("finished");
    }
    const svg = $("#meter-chart");
    if (chart && svg && e.sampled_at) {
      if (svg.dataset.transaction !== String(e.id) && e.active) {
        svg.dataset.transaction = e.id;  // a new session: chart it from its first sample
        chart.reset();
      }
      if (svg.dataset.transaction === String(e.id)) chart.add(e.sampled_at, e.energy_wh / 1000);
    }
  },

  transaction_flag(e) {
    // An open transaction flagged for the operator (or cleared): the badge in its row.
    for (const cell of $$(`[data-transaction="${attr(e.id)}"] [data-field="flag"]`)) {
      cell.replaceChildren();
      if (!e.reason) continue;
      const badge = document.createElement("span");
      badge.className = "badge status-faulted";
      badge.textContent = e.reason;
      cell.append(" ", badge);
    }
  },

  reservation(e) {
    const row = $(`#reservation-table tr[data-reservation="${attr(e.id)}"]`);
    if (row) {
      setReservationStatus($('[data-field="status"]', row), e.status);
      return;
    }
    const page = stationPage();
    if (page && page.dataset.station === e.station) {
      $("#reservation-table .empty-row")?.remove();
      const tr = document.createElement("tr");
      tr.dataset.reservation = e.id;
      tr.innerHTML = '<td></td><td></td><td></td><td></td><td data-field="status"></td><td></td>';
      tr.cells[0].textContent = e.id;
      tr.cells[1].textContent = e.evse_id ?? "any";
      tr.cells[2].textContent = e.id_token ?? "";
      if (e.expires_at) {
        tr.cells[3].textContent = new Date(e.expires_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      }
      setReservationStatus(tr.cells[4], e.status);
      $("#reservation-table tbody").prepend(tr);
    }
  },
};

function apply(event) {
  handlers[event.kind]?.(event);
}

function rowsFor(stationId, create) {
  const table = $("#station-table tbody");
  if (!table) return [];
  let row = $(`tr[data-station="${attr(stationId)}"]`, table);
  if (!row && create) {
    row = $("#station-row-template").content.firstElementChild.cloneNode(true);
    row.dataset.station = stationId;
    const link = $("a", row);
    link.href = `/stations/${encodeURIComponent(stationId)}/`;
    link.textContent = stationId;
    table.appendChild(row);
    $("#no-stations")?.setAttribute("hidden", "");
  }
  return row ? [row] : [];
}

function setConnection(badge, connected) {
  if (!badge) return;
  badge.textContent = connected ? "online" : "offline";
  badge.className = `badge ${connected ? "ok" : "off"}`;
}

function setReservationStatus(cell, status) {
  cell.replaceChildren();
  const badge = document.createElement("span");
  badge.className = `badge res-${status}`;
  badge.textContent = status.replace("_", " ");
  cell.appendChild(badge);
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
    const box = $("#connector-summary");
    box.replaceChildren(...Object.entries(summary.connectors).map(([status, count]) => {
      const badge = document.createElement("span");
      badge.className = `badge status-${status.toLowerCase()}`;
      badge.textContent = `${status}: ${count}`;
      return badge;
    }));
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
  output.className = "result waiting";
  output.textContent = `Waiting for ${station}…`;
  button.disabled = true;
  try {
    const response = await fetch(
      `/stations/${encodeURIComponent(station)}/actions/${form.dataset.action}/`,
      { method: "POST", body: new FormData(form), headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin" },
    );
    const answer = await response.json();
    output.className = `result ${answer.ok ? "ok" : "error"}`;
    output.textContent = answer.message;
  } catch (error) {
    output.className = "result error";
    output.textContent = `The request failed: ${error}`;
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const svg = $("#meter-chart");
  if (svg && window.MeterChart) {
    chart = new MeterChart(svg, JSON.parse($("#meter-series").textContent).energy);
  }
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    sendAction(form);
  });
  connect();
});
