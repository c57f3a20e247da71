// An account: balances by type with expiry, recent debits, action triggers; a top-up behind the *add_balance role.
import { api, cell, duration, el, fillRows, formData, money, status, when, whoami } from "./common.js";

const form = document.getElementById("account-form");
const view = document.getElementById("account-view");
const topup = document.getElementById("topup-form");
let current = null;

function balancesTable(btype, rows, total) {
  return el("figure", {},
    el("table", { class: "striped", dataset: { balanceType: btype } },
      el("caption", {}, `${btype}: `, el("strong", { dataset: { total: btype } }, money(total))),
      el("thead", {}, el("tr", {}, ...["ID", "Value", "Expires", "Weight", "Destinations", "Categories", "State"].map(
        (h) => el("th", { scope: "col", class: h === "Value" || h === "Weight" ? "num" : undefined }, h)))),
      el("tbody", {}, ...rows.map((b) => el("tr", { class: b.Expired ? "expired" : undefined, dataset: { balance: b.ID || b.Uuid, value: b.Value } },
        cell(b.ID || b.Uuid), cell(money(b.Value), true), cell(b.ExpirationDate ? when(b.ExpirationDate) : "never"),
        cell(b.Weight, true), cell(b.DestinationIDs.join(", ") || "—"), cell(b.Categories.join(", ") || "—"),
        cell(b.Expired ? "expired" : b.Disabled ? "disabled" : "active"))))));
}

function render(acc) {
  document.getElementById("account-title").textContent = acc.ID;
  const flags = [acc.Disabled ? "Disabled." : "Enabled.", acc.AllowNegative ? "May go negative." : "", acc.UpdateTime ? `Updated ${when(acc.UpdateTime)}.` : ""];
  document.getElementById("account-flags").textContent = flags.filter(Boolean).join(" ");
  const types = Object.keys(acc.Balances);
  document.getElementById("balances").replaceChildren(...(types.length ? types.map((t) => balancesTable(t, acc.Balances[t], acc.Totals[t])) : [el("p", {}, "No balance.")]));
  fillRows(document.querySelector("#debits tbody"), acc.RecentDebits.map((c) => el("tr", { dataset: { cgrid: c.CGRID, run: c.RunID } },
    cell(when(c.SetupTime)), cell(c.Destination), cell(duration(c.Usage), true), cell(money(c.Cost), true), cell(c.RunID))));
  fillRows(document.querySelector("#triggers tbody"), acc.ActionTriggers.map((t) => el("tr", {},
    cell(t.ID), cell(t.ThresholdType), cell(t.ThresholdValue, true), cell(t.BalanceType || "—"), cell(t.ActionsID),
    cell(t.Recurrent ? "yes" : "no"), cell(t.Executed ? `yes, ${when(t.LastExecutionTime)}` : "no"))));
  view.hidden = false;
  view.dataset.loaded = acc.ID;
}

async function load(tenant, account) {
  try {
    current = { tenant, account };
    render(await api(`api/account?${new URLSearchParams({ tenant, account })}`));
    status("");
  } catch (error) {
    view.hidden = true;
    status(error.status === 404 ? `No account ${account}.` : `Account unavailable: ${error.message}`, true);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const { tenant, account } = formData(form);
  history.replaceState(null, "", `?${new URLSearchParams({ tenant, account })}`);
  load(tenant, account);
});

topup.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  try {
    await api("api/actions/add_balance", { body: { Tenant: current.tenant, Account: current.account, ...formData(topup) } });
    status("Topped up.");
    topup.reset();
    await load(current.tenant, current.account);
  } catch (error) {
    status(`Top-up refused: ${error.message}`, true);
  }
});

const me = await whoami();
const params = new URLSearchParams(location.search);
document.getElementById("tenant").value = params.get("tenant") || me.Tenant || "";
if (params.get("account")) {
  document.getElementById("account").value = params.get("account");
  await load(document.getElementById("tenant").value, params.get("account"));
}
