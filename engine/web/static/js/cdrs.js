// CDR search (CDRsV1.GetCDRs) and its CSV download with the same filter.
import { api, cell, duration, el, fillRows, formData, money, status, when, whoami } from "./common.js";

const form = document.getElementById("cdr-form");
const table = document.getElementById("cdrs");
const csv = document.getElementById("csv");

function query() {
  const fields = Object.fromEntries(Object.entries(formData(form)).filter(([, v]) => v !== ""));
  return new URLSearchParams(fields).toString();
}

async function search() {
  const q = query();
  csv.href = `api/cdrs.csv?${q}`;
  history.replaceState(null, "", `?${q}`);
  try {
    const rows = await api(`api/cdrs?${q}`);
    fillRows(table.tBodies[0], rows.map((c) => el("tr", { dataset: { cgrid: c.CGRID, run: c.RunID, cost: c.Cost } },
      el("td", {}, el("code", { title: c.CGRID }, (c.CGRID || "").slice(0, 10))), cell(c.RunID), cell(c.Account),
      cell(c.Destination), cell(when(c.SetupTime)), cell(when(c.AnswerTime)), cell(duration(c.Usage), true),
      cell(money(c.Cost), true))));
    status(`${rows.length} CDR${rows.length === 1 ? "" : "s"}.`);
    table.dataset.searched = String(Date.now());
  } catch (error) {
    status(`Search failed: ${error.message}`, true);
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); search(); });

await whoami();
for (const [name, value] of new URLSearchParams(location.search)) {
  if (form.elements[name]) form.elements[name].value = value;
}
await search();
