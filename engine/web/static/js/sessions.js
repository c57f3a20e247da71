// Live sessions: polled every second, one row per session run.
import { api, cell, duration, el, may, money, status, whoami } from "./common.js";

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

// Rows are kept by session run and updated in place, so a focused Disconnect button keeps its focus while the
// durations tick; runs that ended go, new ones are added at the end.
const shownRows = new Map();

function cells(r) {
  return [r.Account, r.Destination, duration(r.Duration), money(r.Debited), duration(r.Usage), duration(r.MaxUsage),
    r.RunID, r.RequestType];
}

function newRow(r) {
  const tr = el("tr", { dataset: { cgrid: r.CGRID, run: r.RunID, origin: r.OriginID } },
    ...cells(r).map((v, i) => cell(v, i >= 2 && i <= 5)), el("td", {}, el("code", {}, r.OriginID)));
  if (may("*force_disconnect")) {
    tr.append(el("td", {}, el("button", { class: "small secondary", type: "button", onclick: () => disconnect(r),
      "aria-label": `Disconnect ${r.Account} to ${r.Destination} (${r.OriginID})` }, "Disconnect")));
  }
  return tr;
}

function render(rows) {
  const seen = new Set();
  for (const r of rows) {
    const key = `${r.CGRID}/${r.RunID}`;
    seen.add(key);
    const tr = shownRows.get(key);
    if (!tr) {
      const added = newRow(r);
      shownRows.set(key, added);
      tbody.append(added);
      continue;
    }
    cells(r).forEach((v, i) => { if (tr.cells[i].textContent !== String(v)) tr.cells[i].textContent = v; });
  }
  for (const [key, tr] of shownRows) {
    if (!seen.has(key)) { tr.remove(); shownRows.delete(key); }
  }
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
