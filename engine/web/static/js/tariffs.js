// The tariff plan browser: rating profile → plans → the rates for a number; the cost of a call (APIerSv1.GetCost).
import { api, duration, el, formData, status, when, whoami } from "./common.js";

const form = document.getElementById("tariff-form");
const view = document.getElementById("tariff-view");
const costForm = document.getElementById("cost-form");
const output = document.getElementById("cost");

function ratesTable(match) {
  const rows = [];
  for (const r of match.Rates) {
    const rating = r.Rating || { Rates: [] };
    for (const rate of rating.Rates || []) {
      rows.push(el("tr", {},
        el("td", {}, r.Timing ? `${r.Timing.ID || ""} ${r.Timing.StartTime || ""}`.trim() : "—"),
        el("td", { class: "num" }, rating.ConnectFee ?? "—"), el("td", { class: "num" }, duration(rate.GroupIntervalStart)),
        el("td", { class: "num" }, rate.Value), el("td", { class: "num" }, duration(rate.RateIncrement)),
        el("td", { class: "num" }, duration(rate.RateUnit)), el("td", {}, `${rating.RoundingMethod} ${rating.RoundingDecimals}`),
        el("td", { class: "num" }, r.Weight)));
    }
  }
  return el("table", { class: "striped" },
    el("caption", {}, `Prefix ${match.Prefix} → destination ${match.DestinationID}`),
    el("thead", {}, el("tr", {}, ...["Timing", "Connect fee", "From", "Rate", "Increment", "Per", "Rounding", "Weight"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

function render(t) {
  document.getElementById("tariff-title").textContent = `${t.Id}${t.Number ? ` for ${t.Number}` : ""}`;
  const plans = t.Plans.map((p) => el("article", { dataset: { plan: p.RatingPlanId } },
    el("header", {}, el("strong", {}, p.RatingPlanId), ` from ${when(p.ActivationTime)}`, p.RatingPlanId === t.Active ? " (in force now)" : "",
      p.FallbackKeys.length ? ` · fallback ${p.FallbackKeys.join(", ")}` : ""),
    !p.Found ? el("p", { class: "error" }, "This rating plan is not stored.") :
      p.Match ? ratesTable(p.Match) :
      el("p", {}, t.Number ? `No rate of this plan applies to ${t.Number}. ` : "", `Destinations rated: ${p.Destinations.join(", ") || "none"}.`)));
  document.getElementById("plans").replaceChildren(...plans);
  view.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = new URLSearchParams(Object.fromEntries(Object.entries(formData(form)).filter(([, v]) => v !== "")));
  history.replaceState(null, "", `?${q}`);
  try {
    render(await api(`api/tariffs?${q}`));
    status("");
  } catch (error) {
    view.hidden = true;
    status(error.status === 404 ? "No such rating profile." : `Tariffs unavailable: ${error.message}`, true);
  }
});

costForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const cost = await api("api/cost", { body: formData(costForm) });
    output.replaceChildren(el("p", {}, "Cost: ", el("strong", { id: "cost-value", dataset: { cost: cost.Cost } }, String(cost.Cost)),
      ` for ${duration(cost.Usage)} from ${when(cost.StartTime)}`));
    output.dataset.cost = String(cost.Cost);
    status("");
  } catch (error) {
    output.replaceChildren(el("p", { class: "error" }, `No cost: ${error.message}`));
    delete output.dataset.cost;
  }
});

const me = await whoami();
for (const f of [form, costForm]) {
  for (const name of ["tenant", "Tenant"]) if (f.elements[name]) f.elements[name].value = me.Tenant || "";
  for (const name of ["category", "Category"]) if (f.elements[name]) f.elements[name].value = me.Category || "";
}
const params = new URLSearchParams(location.search);
if (params.get("subject")) {
  for (const [name, value] of params) if (form.elements[name]) form.elements[name].value = value;
  form.requestSubmit();
}
