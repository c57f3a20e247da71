// StatS queues over time: one uPlot chart per metric, and the same points in a table for screen readers.
import { api, duration, el, status, whoami } from "./common.js";

const select = document.getElementById("queue");
const plots = document.getElementById("plots");
const charts = new Map();
let timer = null;

function stamp(t) {
  return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// CGRateS reports -1 for a metric without enough events yet: a gap in the line, "N/A" in the table.
function shown(v) {
  return v === null || v === -1 ? null : v;
}

// Metrics of time (*acd, *tcd, *pdd) come in nanoseconds: their axis speaks in seconds, minutes, hours.
const TIME_METRICS = /^\*(acd|tcd|pdd)\b/;
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });

function ticks(metric) {
  return (u, values) => values.map((v) => (v === null ? "" : TIME_METRICS.test(metric) ? duration(v) : compact.format(v)));
}

function chartFor(metric) {
  let entry = charts.get(metric);
  if (entry) return entry;
  const id = `plot-${charts.size}`;
  const figure = el("figure", { class: "plot", dataset: { metric } },
    el("figcaption", { id: `${id}-caption` }, metric),
    el("div", { class: "chart", role: "img", "aria-labelledby": `${id}-caption`, "aria-describedby": `${id}-table` }),
    el("details", {}, el("summary", {}, `${metric}: the points`),
      el("table", { id: `${id}-table`, class: "striped", dataset: { metric } },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Time"), el("th", { scope: "col", class: "num" }, metric))),
        el("tbody"))));
  plots.append(figure);
  const width = Math.max(320, plots.clientWidth || 800);
  const plot = new uPlot({
    width, height: 220, title: "",
    scales: { x: { time: true } },
    series: [{}, { label: metric, stroke: "#1e88e5", width: 2, spanGaps: false, points: { show: true, size: 5 } }],
    axes: [{}, { size: 80, values: ticks(metric) }],
  }, [[], []], figure.querySelector(".chart"));
  entry = { figure, plot };
  charts.set(metric, entry);
  return entry;
}

function render(series) {
  const names = Object.keys(series.Metrics);
  for (const [metric, entry] of charts) {
    if (!names.includes(metric)) { entry.plot.destroy(); entry.figure.remove(); charts.delete(metric); }
  }
  if (!names.length) {
    status(series.Times.length ? "This queue has no metric." : "No sample yet.");
  }
  for (const metric of names) {
    const values = series.Metrics[metric];
    const { figure, plot } = chartFor(metric);
    plot.setData([series.Times, values.map(shown)]);
    figure.querySelector("table[data-metric] tbody").replaceChildren(...series.Times.map((t, i) => el("tr", { dataset: { t, value: values[i] } },
      el("td", {}, stamp(t)), el("td", { class: "num" }, shown(values[i]) === null ? "N/A" : values[i]))));
    figure.dataset.points = String(series.Times.length);
  }
  plots.dataset.updated = String(Date.now());
}

async function refresh() {
  if (!select.value) return;
  try {
    render(await api(`api/stats/${encodeURIComponent(select.value)}`));
    if (charts.size) status("");
  } catch (error) {
    status(`Samples unavailable: ${error.message}`, true);
  }
}

async function start() {
  await whoami();
  const info = await api("api/stats");
  select.replaceChildren(...info.Queues.map((q) => el("option", { value: q }, q)));
  if (!info.Queues.length) { status("StatS has no queue."); return; }
  const wanted = new URLSearchParams(location.search).get("queue");
  if (wanted && info.Queues.includes(wanted)) select.value = wanted;
  select.addEventListener("change", () => {
    for (const entry of charts.values()) { entry.plot.destroy(); entry.figure.remove(); }
    charts.clear();
    history.replaceState(null, "", `?queue=${encodeURIComponent(select.value)}`);
    refresh();
  });
  await refresh();
  timer = setInterval(refresh, Math.min(5000, Math.max(500, info.RefreshInterval * 1000)));
}

window.addEventListener("load", () => start().catch((error) => status(`StatS unavailable: ${error.message}`, true)));
