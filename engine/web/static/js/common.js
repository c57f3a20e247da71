// What every page of the console shares: the JSON API, building DOM safely (text only, never HTML from data),
// formatting durations (nanoseconds on the wire) and money, and who the user is.

export async function api(path, options = {}) {
  const init = { headers: { Accept: "application/json" }, ...options };
  if (options.body !== undefined) {
    init.method = options.method || "POST";
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(options.body);
  }
  const reply = await fetch(path, init);
  let data = null;
  try { data = await reply.json(); } catch { data = null; }
  if (!reply.ok) {
    const error = new Error((data && data.error) || `${reply.status} ${reply.statusText}`);
    error.status = reply.status;
    throw error;
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const NS = 1e9;

export function duration(ns) {
  if (ns === null || ns === undefined) return "—";
  let s = Math.max(0, Math.floor(Number(ns) / NS));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s` : m ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}

export function money(value) {
  if (value === null || value === undefined) return "—";
  return String(value);
}

export function when(text) {
  if (!text || text.startsWith("0001-01-01")) return "—";
  return text.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

export function status(message, isError = false) {
  const node = document.getElementById("status");
  node.textContent = message || "";
  node.classList.toggle("error", Boolean(isError));
}

export function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

export function cell(value, numeric = false) {
  return el("td", { class: numeric ? "num" : undefined }, value);
}

export function formData(form) {
  const out = {};
  for (const [name, value] of new FormData(form).entries()) out[name] = String(value).trim();
  return out;
}

let me = null;

// Who is asking and what they may do; the elements of actions they may not run stay hidden.
export async function whoami() {
  if (me) return me;
  try {
    me = await api("api/me");
  } catch (error) {
    me = { User: null, Actions: [], Tenant: "", Category: "" };
    status(`Cannot reach the console: ${error.message}`, true);
  }
  document.getElementById("whoami").textContent = me.User ? `${me.User}${me.Actions.length ? "" : " (read-only)"}` : "read-only";
  for (const node of document.querySelectorAll("[data-action]")) node.hidden = !me.Actions.includes(node.dataset.action);
  return me;
}

export function may(action) {
  return Boolean(me && me.Actions.includes(action));
}
