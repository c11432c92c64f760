// The console's customer pages: search, consents, data requests, export and erasure (admins).
// Safety rule, as in console.js: server data is put in the page with textContent only.
"use strict";

(function () {
  const state = { csrf: null, me: null, current: null };
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("Please log in again.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.error && data.error.message) || "Something went wrong.");
    return data;
  }

  function banner(text) {
    const node = $("banner");
    node.hidden = !text;
    node.textContent = text || "";
  }

  async function search(event) {
    event.preventDefault();
    banner("");
    const q = $("q").value.trim();
    if (!q) return;
    const found = await api("GET", `/api/customers?q=${encodeURIComponent(q)}`);
    const list = $("results");
    list.replaceChildren();
    if (!found.items.length) banner("No customer you may see matches.");
    for (const item of found.items) {
      const li = el("li", null, "queue-item");
      const button = el("button", `${item.name} · ${item.identities.map((i) => `${i.channel} ${i.external_id}`).join(", ")}`);
      button.type = "button";
      button.dataset.customer = String(item.id);
      button.addEventListener("click", () => open(item.id, item.name));
      li.append(button);
      list.append(li);
    }
  }

  async function open(id, name) {
    const page = await api("GET", `/api/customers/${id}`);
    state.current = id;
    $("customer").hidden = false;
    $("customer-title").textContent = `${name} (customer ${id})`;
    const identities = $("identities");
    identities.replaceChildren(...page.identities.map((i) => el("li", `${i.channel}: ${i.external_id}${i.display_name ? ` (${i.display_name})` : ""}`)));
    const rows = $("consents");
    rows.replaceChildren();
    for (const c of page.consent_history) {
      const tr = el("tr");
      tr.append(el("td", c.purpose), el("td", c.granted ? "Yes" : "No"), el("td", when(c.created_at)),
        el("td", c.channel || c.source), el("td", c.text));
      rows.append(tr);
    }
    $("requests").replaceChildren(...page.data_requests.map((r) => el("li", `${when(r.created_at)}: ${r.action} by ${r.actor}`)));
    $("admin-actions").hidden = !page.can.erase;
    $("export").href = `/api/customers/${id}/export?format=html`;
  }

  async function withdraw(event) {
    event.preventDefault();
    if (state.current === null) return;
    const purpose = $("withdraw-purpose").value.trim();
    await api("POST", `/api/customers/${state.current}/consents`, { purpose, granted: false, text: "recorded in the console" });
    banner(`Withdrawal of ${purpose} recorded.`);
    await open(state.current, $("customer-title").textContent.replace(/ \(customer \d+\)$/, ""));
  }

  async function erase() {
    if (state.current === null) return;
    if (!window.confirm("Erase everything held about this customer? This cannot be undone.")) return;
    const done = await api("POST", `/api/customers/${state.current}/erase`);
    banner(`Erased customer ${done.customers.join(", ")}.`);
    $("customer").hidden = true;
    $("results").replaceChildren();
    state.current = null;
  }

  async function start() {
    const session = await api("GET", "/api/session");
    state.csrf = session.csrf_token;
    state.me = session.agent;
    $("me").textContent = session.agent.name;
    const guard = (fn) => (event) => fn(event).catch((error) => banner(error.message));
    $("search").addEventListener("submit", guard(search));
    $("withdraw").addEventListener("submit", guard(withdraw));
    $("erase").addEventListener("click", guard(erase));
  }

  document.addEventListener("DOMContentLoaded", () => start().catch((error) => banner(error.message)));
})();
