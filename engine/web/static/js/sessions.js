// Live sessions: polled every second, one row per session run.
import { api, cell, duration, el, fillRows, may, money, status, whoami } from "./common.js";

const POLL_MS = 1000;
const tbody = document.querySelector("#sessions tbody");
const summary = document.getElementById("summary");
let lastCount = -1;

async function disconnect(row) {
  if (!confirm(`Disconnect ${row.Account} → ${row.Destination} (${row.OriginID})?`)) return;
  try {
    await api("api/actions/force_disconnect", { body: { OriginID: row.OriginID, OriginHost: row.OriginHost, Tenant: row.Tenant } });
    status(`Disconnect of ${row.OriginID} requested.`);
    await refresh();
  } catch (error) {
    status(`Disconnect refused: ${error.message}`, true);
  }
}

function render(rows) {
  fillRows(tbody, rows.map((r) => el("tr", { dataset: { cgrid: r.CGRID, run: r.RunID, origin: r.OriginID } },
    cell(r.Account), cell(r.Destination), cell(duration(r.Duration), true), cell(money(r.Debited), true),
    cell(duration(r.Usage), true), cell(duration(r.MaxUsage), true), cell(r.RunID), cell(r.RequestType),
    el("td", {}, el("code", {}, r.OriginID)),
    may("*force_disconnect") ? el("td", {}, el("button", { class: "small secondary", type: "button", onclick: () => disconnect(r) }, "Disconnect")) : null,
  )));
  const sessions = new Set(rows.map((r) => r.CGRID)).size;
  if (sessions !== lastCount) {
    summary.textContent = sessions === 0 ? "No active session." : `${sessions} active session${sessions === 1 ? "" : "s"} (${rows.length} charging run${rows.length === 1 ? "" : "s"}).`;
    lastCount = sessions;
  }
  document.getElementById("sessions").dataset.updated = String(Date.now());
}

async function refresh() {
  try {
    render(await api("api/sessions"));
    status("");
  } catch (error) {
    status(`Sessions unavailable: ${error.message}`, true);
  }
}

await whoami();
await refresh();
setInterval(refresh, POLL_MS);
