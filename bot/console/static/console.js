// The Baton agent console. Plain JavaScript, no build step.
//
// Safety rule: everything that comes from the server (and so possibly from a customer) is put
// in the page with textContent or as an attribute value through el(); this file never
// assigns innerHTML. The page's Content-Security-Policy forbids inline scripts besides.
"use strict";

(function () {
  const CHANNELS = {
    telegram: "Telegram",
    twilio: "SMS",
    slack: "Slack",
    web: "Web chat",
    shell: "Terminal",
  };
  const STATUS = {
    bot: "With the bot",
    waiting: "Waiting",
    agent: "With an agent",
    resolved: "Resolved",
  };
  const OUTCOME = {
    resolved: "Resolved",
    handed_back: "Handed back to the bot",
    cancelled: "Customer stopped waiting",
    left: "Customer went back to the bot",
    waiting: "Waiting",
    agent: "With an agent",
  };
  const EVENTS = {
    waiting: "started waiting for a person",
    claimed: "claimed the conversation",
    assigned: "assigned the conversation",
    released: "put the conversation back in the queue",
    resolved: "resolved the conversation",
    handed_back: "handed the conversation back to the bot",
    cancelled: "The customer stopped waiting",
    left: "The customer went back to the bot",
    breached: "The reply-by deadline passed",
  };
  const DELIVERY = {
    pending: "Sending…",
    sent: "Sent",
    delivered: "Delivered",
    read: "Read",
    failed: "Not delivered",
    undelivered: "Not delivered",
    "not sent": "Not sent",
    received: "",
  };

  const state = {
    me: null,
    csrf: null,
    skew: 0,
    warn: 300,
    tab: "queue",
    items: [],
    current: null,
    detail: null,
    messages: [],
    agents: [],
    canned: [],
    mode: "reply",
    socket: null,
    retry: 1000,
  };

  // --- small helpers ----------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "text") node.textContent = String(value);
        else if (key === "className") node.className = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function now() {
    return Date.now() / 1000 + state.skew;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
    const h = Math.floor(m / 60);
    return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  }

  function clock(ts) {
    const d = new Date(ts * 1000);
    const today = new Date();
    const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === today.toDateString()) return time;
    return `${d.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
  }

  function channelBadge(channel) {
    const name = CHANNELS[channel] || channel || "unknown";
    return el("span", { className: `badge ch-${channel || "unknown"}`, text: name });
  }

  function deadlineChip(deadline, firstReply) {
    if (firstReply) return el("span", { className: "chip ok", text: "Answered" });
    const chip = el("span", { className: "chip", dataset: { deadline: String(deadline) } });
    paintDeadline(chip);
    return chip;
  }

  function paintDeadline(chip) {
    const left = Number(chip.dataset.deadline) - now();
    chip.classList.remove("ok", "warn", "late");
    if (left <= 0) {
      chip.classList.add("late");
      chip.textContent = `Overdue ${duration(-left)}`;
    } else {
      chip.classList.add(left <= state.warn ? "warn" : "ok");
      chip.textContent = `Reply within ${duration(left)}`;
    }
    chip.title = `Reply by ${new Date(Number(chip.dataset.deadline) * 1000).toLocaleString()}`;
  }

  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(paintDeadline);
    document.querySelectorAll("[data-since]").forEach((node) => {
      node.textContent = `${node.dataset.label || "waiting"} ${duration(now() - Number(node.dataset.since))}`;
    });
  }

  // --- the API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // `file`: send a File as the raw body (its type as Content-Type) instead of JSON.
  async function api(method, path, body, file) {
    const headers = { Accept: "application/json" };
    if (file) headers["Content-Type"] = file.type || "application/octet-stream";
    else if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: file || (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new ApiError(401, "unauthenticated", "Please log in again.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(response.status, error.code || "error", error.message || "Something went wrong.");
    }
    return data;
  }

  function banner(text, kind) {
    const node = $("banner");
    if (!text) {
      node.hidden = true;
      return;
    }
    node.className = `banner ${kind || "info"}`;
    node.textContent = text;
    node.hidden = false;
  }

  function sentence(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) + "." : "";
  }

  // --- the queue ---------------------------------------------------------------------------

  function groups() {
    const me = state.me.id;
    const queue = state.items.filter((i) => i.status === "waiting");
    const mine = state.items.filter((i) => i.status === "agent" && i.agent && i.agent.id === me);
    const others = state.items.filter((i) => i.status === "agent" && (!i.agent || i.agent.id !== me));
    return { queue, mine, others };
  }

  async function loadQueue() {
    const data = await api("GET", "/api/conversations");
    state.skew = data.now - Date.now() / 1000;
    state.items = data.items;
    followCurrent();
    renderQueue();
  }

  // When the open conversation moves (claimed: from Queue to Mine), its tab follows.
  function followCurrent() {
    if (state.current === null) return;
    const g = groups();
    const group = Object.keys(g).find((k) => g[k].some((i) => i.id === state.current));
    if (group && group !== state.currentGroup) state.tab = group;
    state.currentGroup = group || null;
  }

  function renderQueue() {
    const g = groups();
    $("count-queue").textContent = String(g.queue.length);
    $("count-mine").textContent = String(g.mine.length);
    $("count-others").textContent = String(g.others.length);
    $("tab-others").hidden = !(state.me && state.me.role === "admin");
    for (const tab of document.querySelectorAll(".tab")) {
      tab.classList.toggle("active", tab.dataset.tab === state.tab);
      tab.setAttribute("aria-selected", String(tab.dataset.tab === state.tab));
    }
    const list = $("queue-list");
    clear(list);
    const items = g[state.tab] || [];
    for (const item of items) list.append(queueItem(item));
    tick();
    const empty = $("queue-empty");
    empty.hidden = items.length > 0;
    empty.textContent =
      state.tab === "queue" ? "Nobody is waiting right now." :
      state.tab === "mine" ? "You hold no conversations." : "Nobody else holds a conversation.";
  }

  function queueItem(item) {
    const me = state.me.id;
    const reserved = item.assigned_to
      ? el("span", {
          className: "chip reserved",
          text: item.assigned_to.id === me ? "Assigned to you" : `For ${item.assigned_to.name}`,
        })
      : null;
    const preview = item.last_message && item.last_message.text ? item.last_message.text : item.reason || "";
    const li = el(
      "li",
      {
        className: `queue-item${state.current === item.id ? " selected" : ""}`,
        dataset: { id: String(item.id) },
        role: "button",
        tabindex: "0",
        "aria-label": `Open the conversation with ${item.name}`,
      },
      el(
        "div",
        { className: "qi-top" },
        el("span", { className: "qi-name", text: item.name }),
        channelBadge(item.channel),
      ),
      el("div", { className: "qi-preview", text: preview }),
      el(
        "div",
        { className: "qi-meta" },
        item.status === "waiting" && item.position
          ? el("span", { className: "qi-pos", text: `#${item.position}` })
          : null,
        el("span", {
          className: "qi-since",
          dataset: { since: String(item.waiting_since), label: item.status === "waiting" ? "waiting" : "open" },
        }),
        deadlineChip(item.deadline_at, item.first_reply_at),
        reserved,
        item.status === "agent" && item.agent && item.agent.id !== me
          ? el("span", { className: "chip", text: item.agent.name })
          : null,
      ),
    );
    const open = () => selectConversation(item.id);
    li.addEventListener("click", open);
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        open();
      }
    });
    return li;
  }

  // --- one conversation ---------------------------------------------------------------------

  async function selectConversation(id) {
    $("admin").hidden = true;
    state.current = id;
    state.currentGroup = state.tab;
    state.detail = null;
    state.messages = [];
    banner("");
    $("composer-text").value = "";
    renderQueue();
    watch();
    await loadConversation();
  }

  async function loadConversation() {
    const id = state.current;
    if (id === null) return;
    try {
      const [detail, history, followUp] = await Promise.all([
        api("GET", `/api/conversations/${id}`),
        api("GET", `/api/conversations/${id}/messages?limit=300`),
        api("GET", `/api/conversations/${id}/follow-up`),
      ]);
      if (state.current !== id) return;
      state.skew = detail.now - Date.now() / 1000;
      state.detail = detail;
      state.followUp = followUp;
      state.messages = history.messages;
      renderConversation();
    } catch (error) {
      if (error.status === 404 && state.current === id) {
        state.current = null;
        state.detail = null;
        showPlaceholder("This conversation is no longer yours to see: someone else took it, or it ended.");
        renderQueue();
      } else {
        banner(sentence(error.message), "error");
      }
    }
  }

  function showPlaceholder(text) {
    $("admin").hidden = true;
    $("conv").hidden = true;
    $("customer").hidden = true;
    $("placeholder").hidden = false;
    $("placeholder-text").textContent = text;
  }

  function seenId() {
    return state.messages.reduce((max, m) => Math.max(max, m.id), 0);
  }

  function renderConversation() {
    const d = state.detail;
    const h = d.handoff;
    $("placeholder").hidden = true;
    $("conv").hidden = false;
    $("customer").hidden = false;
    $("conv-name").textContent = d.customer.name;
    const status = $("conv-status");
    status.textContent = STATUS[d.status] || d.status;
    status.className = `pill st-${d.status}`;
    const current = d.customer.identities.find((i) => i.current) || d.customer.identities[0];
    const channel = $("conv-channel");
    channel.replaceWith(Object.assign(channelBadge(current && current.channel), { id: "conv-channel" }));
    const deadline = $("conv-deadline");
    clear(deadline);
    if (h) deadline.append(deadlineChip(h.deadline_at, h.first_reply_at));
    $("conv-holder").textContent =
      h && h.agent ? `Held by ${h.agent.id === state.me.id ? "you" : h.agent.name}` :
      h && h.assigned_to ? `Reserved for ${h.assigned_to.id === state.me.id ? "you" : h.assigned_to.name}` : "";

    $("act-claim").hidden = !d.can.claim;
    $("act-release").hidden = !d.can.release;
    $("act-handback").hidden = !d.can.hand_back;
    $("act-resolve").hidden = !d.can.resolve;
    renderAssign(d.can.assign);

    const canReply = d.can.reply;
    $("mode-reply").disabled = !canReply;
    if (!canReply && state.mode === "reply") setMode("note");
    if (canReply && !$("composer-text").value && state.mode === "note" && !state.modeChosen) setMode("reply");
    $("composer-hint").textContent =
      state.mode === "note"
        ? "Only agents see internal notes."
        : current
          ? `Goes to the customer on ${CHANNELS[current.channel] || current.channel}, the channel they last wrote from.`
          : "";
    renderTimeline();
    renderCustomer();
    tick();
  }

  function renderAssign(allowed) {
    const select = $("assign-to");
    clear(select);
    select.append(el("option", { value: "", text: "Assign to…" }));
    for (const agent of state.agents) {
      if (agent.id === state.me.id) continue;
      select.append(el("option", { value: String(agent.id), text: agent.name }));
    }
    select.hidden = !allowed || select.options.length < 2;
    select.value = "";
  }

  function timelineEntries() {
    const d = state.detail;
    const entries = state.messages.map((m) => ({ at: m.created_at, order: m.id, kind: "message", m }));
    for (const note of d.notes) entries.push({ at: note.created_at, order: 0, kind: "note", note });
    for (const event of d.events) entries.push({ at: event.created_at, order: 0, kind: "event", event });
    entries.sort((a, b) => a.at - b.at || a.order - b.order);
    return entries;
  }

  function renderTimeline() {
    const list = $("timeline");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    clear(list);
    let lastChannel = null;
    for (const entry of timelineEntries()) {
      if (entry.kind === "message") {
        const m = entry.m;
        if (m.channel !== lastChannel && lastChannel !== null && m.direction === "in") {
          list.append(el("li", { className: "switch", text: `Continued on ${CHANNELS[m.channel] || m.channel}` }));
        }
        if (m.direction === "in") lastChannel = m.channel;
        list.append(messageItem(m));
      } else if (entry.kind === "note") {
        list.append(noteItem(entry.note));
      } else {
        list.append(eventItem(entry.event));
      }
    }
    if (nearBottom || list.dataset.for !== String(state.current)) list.scrollTop = list.scrollHeight;
    list.dataset.for = String(state.current);
  }

  const PICTURES = ["image/jpeg", "image/png", "image/gif", "image/webp"];

  function fileLink(f) {
    const name = f.name || f.kind || "file";
    const link = el("a", { className: "file", href: f.url, target: "_blank", rel: "noopener", download: name });
    if (PICTURES.includes(f.mime_type)) {
      link.append(el("img", { className: "thumb", src: f.url, alt: name, loading: "lazy" }));
    } else {
      link.append(el("span", { text: `${f.kind}: ${name}` }));
    }
    return link;
  }

  function messageItem(m) {
    const who =
      m.author === "customer" ? state.detail.customer.name :
      m.author === "agent" ? (m.agent && m.agent.name) || "Agent" :
      m.author === "bot" ? "Bot" : "System";
    const bubble = el(
      "div",
      { className: "bubble" },
      m.pressed ? el("span", { className: "pressed", text: "Pressed" }) : null,
      el("div", { className: "text", text: m.text || "" }),
    );
    if (m.choices && m.choices.length) {
      bubble.append(el("div", { className: "choices" }, ...m.choices.map((c) => el("span", { className: "choice", text: c }))));
    }
    if (m.files && m.files.length) {
      // Kept files: served by /api/files/{id} only to agents who may see this conversation.
      bubble.append(el("div", { className: "media" }, ...m.files.map(fileLink)));
    } else if (m.media && m.media.length) {
      bubble.append(el("div", { className: "media" }, ...m.media.map((x) => el("span", { className: "file", text: `${x.kind}: ${x.name}` }))));
    }
    const meta = el(
      "div",
      { className: "meta" },
      el("span", { className: "who", text: who }),
      channelBadge(m.channel),
      el("time", { text: clock(m.created_at), datetime: new Date(m.created_at * 1000).toISOString() }),
    );
    if (m.direction === "out" && m.delivery_status && DELIVERY[m.delivery_status] !== "") {
      meta.append(
        el("span", {
          className: `delivery ds-${m.delivery_status.replace(/\s+/g, "-")}`,
          text: DELIVERY[m.delivery_status] || m.delivery_status,
          title: m.error || null,
          dataset: { status: m.delivery_status },
        }),
      );
      // Why it failed (for example a channel that cannot carry the file), as text.
      if (m.error && ["failed", "undelivered", "not sent"].includes(m.delivery_status)) {
        bubble.append(el("div", { className: "delivery-error", text: sentence(m.error) }));
      }
    }
    return el("li", { className: `msg from-${m.author} dir-${m.direction}`, dataset: { id: String(m.id) } }, bubble, meta);
  }

  function noteItem(note) {
    return el(
      "li",
      { className: "note" },
      el("div", { className: "note-head", text: `Internal note · ${note.agent ? note.agent.name : "Agent"} · ${clock(note.created_at)}` }),
      el("div", { className: "text", text: note.text }),
    );
  }

  function eventItem(event) {
    const words = EVENTS[event.kind] || event.kind;
    const actor = event.agent ? (event.agent.id === state.me.id ? "You" : event.agent.name) : null;
    let text = actor && /^[a-z]/.test(words) ? `${actor} ${words}` : sentence(words).replace(/\.$/, "");
    if (!actor && /^[a-z]/.test(words)) text = `Customer ${words}`;
    if (event.to) text += ` to ${event.to.id === state.me.id ? "you" : event.to.name}`;
    return el("li", { className: `event ev-${event.kind}` }, el("span", { text: `${text} · ${clock(event.created_at)}` }));
  }

  function fact(list, term, value, className) {
    list.append(el("dt", { text: term }), el("dd", { className: className || null, text: value === null || value === undefined || value === "" ? "—" : String(value) }));
  }

  function show(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  const SCHEDULED = { wake: "Flow wakes", start: "Flow starts", event: "Event for flows" };
  const SCHEDULED_STATUS = { pending: "Scheduled", fired: "Done", cancelled: "Cancelled", failed: "Failed" };

  // The customer's surveys and scheduled work; customer text goes in with textContent only.
  function renderFollowUp() {
    const f = state.followUp || { surveys: [], scheduled: [] };
    const surveys = $("cust-surveys");
    clear(surveys);
    if (!f.surveys.length) surveys.append(el("li", { className: "muted", text: "None." }));
    for (const s of f.surveys) {
      surveys.append(
        el(
          "li",
          { className: "survey" },
          el("div", { text: `${s.kind.toUpperCase()} ${s.score} · ${clock(s.created_at)}` }),
          el("div", { className: "muted small", text: [s.comment, s.channel, s.after === "bot" ? "after the bot" : "after an agent"].filter(Boolean).join(" · ") }),
        ),
      );
    }
    const scheduled = $("cust-scheduled");
    clear(scheduled);
    if (!f.scheduled.length) scheduled.append(el("li", { className: "muted", text: "Nothing scheduled." }));
    for (const t of f.scheduled) {
      scheduled.append(
        el(
          "li",
          { className: "scheduled" },
          el("div", { text: `${SCHEDULED[t.kind] || t.kind}${t.flow ? `: ${t.flow}` : ""}` }),
          el("div", { className: "muted small", text: [`${SCHEDULED_STATUS[t.status] || t.status} · due ${clock(t.due_at)}`, t.reason].filter(Boolean).join(" · ") }),
        ),
      );
    }
  }

  function renderCustomer() {
    const d = state.detail;
    const c = d.customer;
    const facts = $("cust-facts");
    clear(facts);
    fact(facts, "Name", c.name);
    fact(facts, "Customer since", new Date(c.created_at * 1000).toLocaleDateString());
    fact(facts, "Last seen", clock(c.last_seen_at));

    const ids = $("cust-identities");
    clear(ids);
    for (const i of c.identities) {
      const consent = i.opted_out ? "Opted out" : i.unreachable ? "Unreachable" : "Can be messaged";
      ids.append(
        el(
          "li",
          { className: "identity" },
          el(
            "div",
            { className: "identity-top" },
            channelBadge(i.channel),
            el("span", { className: "ident", text: i.external_id }),
            i.current ? el("span", { className: "chip ok", text: "Current" }) : null,
          ),
          el(
            "div",
            { className: "identity-sub" },
            i.display_name ? el("span", { className: "ident-name", text: i.display_name }) : null,
            el("span", { className: `consent ${i.opted_out || i.unreachable ? "no" : "yes"}`, text: consent }),
          ),
        ),
      );
    }

    const h = d.handoff;
    const hf = $("handoff-facts");
    clear(hf);
    if (h) {
      fact(hf, "Reason", h.reason);
      fact(hf, "Started by", { customer: "The customer", flow: "A flow", misunderstood: "Bot did not understand" }[h.trigger] || h.trigger);
      fact(hf, "Waiting since", clock(h.waiting_since));
      if (h.position) fact(hf, "Place in queue", `#${h.position}`);
      fact(hf, "Flow", h.summary && h.summary.flow);
      fact(hf, "Step", h.summary && h.summary.step);
      const llm = h.summary && h.summary.llm;
      if (llm) fact(hf, "Summary (LLM)", llm.text || (llm.pending ? "Being written…" : "Not available (the model failed); see the answers and messages."), llm.text ? "llm-summary" : "muted");
    } else {
      fact(hf, "Status", STATUS[d.status] || d.status);
    }

    const answers = $("cust-answers");
    clear(answers);
    const collected = (h && h.summary && h.summary.answers) || [];
    if (!collected.length) answers.append(el("dd", { className: "muted", text: "Nothing yet." }));
    for (const a of collected) fact(answers, a.question, show(a.answer) + (a.remembered ? " (remembered)" : ""));

    const memory = $("cust-memory");
    clear(memory);
    const keys = Object.keys(c.memory || {});
    if (!keys.length) memory.append(el("dd", { className: "muted", text: "Nothing remembered." }));
    for (const key of keys) fact(memory, key, show(c.memory[key]));

    renderFollowUp();
    loadProactive(c.id).catch(() => {});

    const earlier = $("cust-earlier");
    clear(earlier);
    if (!d.earlier.length) earlier.append(el("li", { className: "muted", text: "None." }));
    for (const e of d.earlier) {
      earlier.append(
        el(
          "li",
          { className: "earlier" },
          el("div", { text: `${clock(e.waiting_since)} · ${OUTCOME[e.status] || e.status}` }),
          el("div", { className: "muted small", text: [e.reason, e.agent ? `with ${e.agent.name}` : null, e.breached ? "reply-by missed" : null].filter(Boolean).join(" · ") }),
        ),
      );
    }
  }

  const PROACTIVE = { sent: "ok", pending: "", skipped: "late", failed: "late", uncertain: "late" };

  async function loadProactive(customerId) {
    const data = await api("GET", `/api/customers/${customerId}/proactive`);
    const list = $("cust-proactive");
    clear(list);
    if (!data.messages.length) list.append(el("li", { className: "muted", text: "None." }));
    for (const m of data.messages) {
      list.append(
        el(
          "li",
          { className: "earlier" },
          el(
            "div",
            null,
            el("span", { className: `chip ${PROACTIVE[m.status] || ""}`, text: m.status }),
            " ",
            el("span", { text: m.text }),
          ),
          el("div", {
            className: "muted small",
            text: [clock(m.created_at), m.channel, m.purpose, m.campaign_id ? `campaign ${m.campaign_id}` : null, m.reason]
              .filter(Boolean)
              .join(" · "),
          }),
        ),
      );
    }
  }

  async function loadCampaigns() {
    const data = await api("GET", "/api/campaigns");
    const rows = $("admin-campaigns");
    clear(rows);
    for (const c of data.campaigns) {
      const n = c.counts;
      rows.append(
        el(
          "tr",
          null,
          el("td", { text: `${c.name} (${c.purpose})` }),
          el("td", { text: c.status }),
          el("td", { text: `${n.sent} / ${c.total}` }),
          el("td", { text: String(n.pending + n.queued) }),
          el("td", { text: String(n.skipped) + (n.skipped ? ` (${Object.entries(c.skipped_reasons).map(([k, v]) => `${k} ${v}`).join(", ")})` : "") }),
          el("td", { text: `${n.failed} / ${n.uncertain}` }),
        ),
      );
    }
    if (!data.campaigns.length) rows.append(el("tr", null, el("td", { className: "muted", text: "No campaigns yet." })));
  }

  async function startConversation(event) {
    event.preventDefault();
    const input = $("start-customer");
    try {
      const started = await api("POST", `/api/customers/${Number(input.value)}/conversation`, {});
      input.value = "";
      state.tab = "mine";
      await loadQueue();
      await selectConversation(started.conversation_id);
    } catch (error) {
      banner(sentence(error.message), "error");
    }
  }

  // --- actions ------------------------------------------------------------------------------

  const DONE = {
    resolve: (name) => `Resolved. The bot answers ${name}'s next message.`,
    "hand-back": (name) => `Handed back to the bot, which asked ${name} its open question again.`,
  };

  async function act(action, body) {
    const id = state.current;
    if (id === null) return;
    banner("");
    try {
      await api("POST", `/api/conversations/${id}/${action}`, body === undefined ? {} : body);
      if (DONE[action] && !(state.me.role === "admin")) {
        const name = state.detail ? state.detail.customer.name : "the customer";
        state.current = null;
        state.detail = null;
        watch();
        showPlaceholder(DONE[action](name));
        await loadQueue();
        return;
      }
    } catch (error) {
      const words = {
        taken: "Someone else took this conversation first.",
        customer_wrote: "The customer just wrote something: read it before closing.",
        not_holder: "Only the agent holding this conversation can do that.",
      };
      banner(words[error.code] || sentence(error.message), "error");
    }
    await Promise.all([loadQueue(), loadConversation()]);
  }

  function setMode(mode, chosen) {
    state.mode = mode;
    if (chosen) state.modeChosen = true;
    for (const button of document.querySelectorAll(".mode")) {
      button.classList.toggle("active", button.dataset.mode === mode);
    }
    $("composer").classList.toggle("noting", mode === "note");
    $("composer-text").placeholder = mode === "note" ? "Write a note for your colleagues…" : "Write a reply…";
    $("send").textContent = mode === "note" ? "Add note" : "Send";
    if (state.detail) {
      const current = state.detail.customer.identities.find((i) => i.current);
      $("composer-hint").textContent =
        mode === "note"
          ? "Only agents see internal notes."
          : current
            ? `Goes to the customer on ${CHANNELS[current.channel] || current.channel}, the channel they last wrote from.`
            : "";
    }
  }

  // --- an attachment to the next reply -----------------------------------------------------

  function chosenFile() {
    const input = $("attach-input");
    return state.mode === "reply" && input.files && input.files.length ? input.files[0] : null;
  }

  function showAttachment() {
    const file = chosenFile();
    $("attach-chosen").hidden = !file;
    $("attach-name").textContent = file ? file.name : "";
    $("attach-label").textContent = file ? "Change" : "Attach";
  }

  function removeAttachment() {
    $("attach-input").value = "";
    showAttachment();
  }

  async function send(event) {
    event.preventDefault();
    const box = $("composer-text");
    const text = box.value.trim();
    const file = chosenFile();
    if ((!text && !file) || state.current === null) return;
    $("send").disabled = true;
    banner("");
    try {
      const base = `/api/conversations/${state.current}`;
      if (state.mode === "note") {
        await api("POST", `${base}/notes`, { text });
      } else {
        const body = text ? { text } : {};
        if (file) {
          // Kept first (size and type checked), then sent with the reply by its id.
          const kept = await api("POST", `${base}/files?name=${encodeURIComponent(file.name)}`, undefined, file);
          body.files = [kept.id];
        }
        await api("POST", `${base}/messages`, body);
        removeAttachment();
      }
      box.value = "";
    } catch (error) {
      // A 413 without the API's body comes from the server's own request size limit.
      const refused = file && (["too_large", "file_type"].includes(error.code) || error.status === 413);
      const why = error.code === "error" && error.status === 413 ? "it is too large" : error.message;
      banner(
        error.code === "not_holder" ? "Claim the conversation before replying." :
        refused ? `Could not attach ${file.name}: ${why}.` : sentence(error.message),
        "error",
      );
    } finally {
      $("send").disabled = false;
    }
    await loadConversation();
  }

  // --- live updates -------------------------------------------------------------------------

  const pending = { queue: null, conversation: null };

  function soon(kind, fn) {
    if (pending[kind]) return;
    pending[kind] = setTimeout(() => {
      pending[kind] = null;
      fn().catch(() => {});
    }, 120);
  }

  function watch() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ type: "watch", id: state.current }));
    }
  }

  function setLive(on) {
    const live = $("live");
    live.textContent = on ? "Live" : "Reconnecting…";
    live.classList.toggle("offline", !on);
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/live`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.retry = 1000;
      setLive(true);
      watch();
      soon("queue", loadQueue);
      if (state.current !== null) soon("conversation", loadConversation);
    });
    socket.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (data.type === "queue") soon("queue", loadQueue);
      if (data.type === "conversation" && data.id === state.current) soon("conversation", loadConversation);
    });
    socket.addEventListener("close", (event) => {
      setLive(false);
      if (event.code === 4401) {
        window.location.assign("/console/login");
        return;
      }
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 15000);
    });
  }

  // --- administration (admins) ----------------------------------------------------------------

  function adminBanner(text, kind) {
    const node = $("admin-banner");
    clear(node);
    node.hidden = !text;
    if (!text) return;
    node.className = `banner ${kind || "info"}`;
    if (typeof text === "string") node.textContent = text;
    else node.append(...text);
  }

  async function openAdmin() {
    state.current = null;
    watch();
    $("placeholder").hidden = true;
    $("conv").hidden = true;
    $("customer").hidden = true;
    $("admin").hidden = false;
    adminBanner("");
    renderQueue();
    await loadAdmin();
  }

  function closeAdmin() {
    $("admin").hidden = true;
    showPlaceholder("Pick a conversation from the queue.");
  }

  async function loadAdmin() {
    const [agents, canned, tokens] = await Promise.all([
      api("GET", "/api/agents"),
      api("GET", "/api/canned-replies"),
      api("GET", "/api/tokens"),
      loadCampaigns(),
    ]);
    state.agents = agents.agents.filter((a) => a.active !== false);
    const rows = $("admin-agents");
    clear(rows);
    for (const agent of agents.agents) {
      const self = agent.id === state.me.id;
      rows.append(
        el(
          "tr",
          null,
          el("td", { text: agent.name }),
          el("td", { text: agent.email }),
          el("td", { text: agent.role === "admin" ? "Admin" : "Agent" }),
          el("td", null, el("span", { className: `chip ${agent.active ? "ok" : "late"}`, text: agent.active ? "Active" : "Deactivated" })),
          el(
            "td",
            null,
            self
              ? el("span", { className: "muted small", text: "You" })
              : el("button", {
                  type: "button",
                  text: agent.active ? "Deactivate" : "Reactivate",
                  onclick: () => adminDo("PATCH", `/api/agents/${agent.id}`, { active: !agent.active }),
                }),
          ),
        ),
      );
    }
    const list = $("admin-canned");
    clear(list);
    state.canned = canned.canned_replies;
    for (const reply of canned.canned_replies) {
      list.append(
        el(
          "li",
          { className: "row-item" },
          el("div", null, el("strong", { text: reply.title }), el("div", { className: "muted small", text: reply.text })),
          el("button", { type: "button", text: "Delete", onclick: () => adminDo("DELETE", `/api/canned-replies/${reply.id}`) }),
        ),
      );
    }
    const tokenList = $("admin-tokens");
    clear(tokenList);
    for (const token of tokens.tokens) {
      tokenList.append(
        el(
          "li",
          { className: "row-item" },
          el(
            "div",
            null,
            el("strong", { text: token.name }),
            el("div", {
              className: "muted small",
              text: `Acts as ${token.agent ? token.agent.name : "?"} · created ${clock(token.created_at)}` +
                (token.last_used_at ? ` · last used ${clock(token.last_used_at)}` : " · never used"),
            }),
          ),
          token.revoked
            ? el("span", { className: "chip late", text: "Revoked" })
            : el("button", { type: "button", text: "Revoke", onclick: () => adminDo("DELETE", `/api/tokens/${token.id}`) }),
        ),
      );
    }
  }

  async function adminDo(method, path, body) {
    try {
      const result = await api(method, path, body);
      await loadAdmin();
      return result;
    } catch (error) {
      adminBanner(sentence(error.message), "error");
      return null;
    }
  }

  async function addAgent(event) {
    event.preventDefault();
    const result = await adminDo("POST", "/api/agents", {
      name: $("agent-name").value,
      email: $("agent-email").value,
      role: $("agent-role").value,
    });
    if (result) {
      $("agent-form").reset();
      adminBanner(["Added. Their password, shown once: ", el("span", { className: "secret", text: result.password })], "info");
    }
  }

  async function addCanned(event) {
    event.preventDefault();
    const result = await adminDo("POST", "/api/canned-replies", { title: $("canned-title").value, text: $("canned-text").value });
    if (result) {
      $("canned-form").reset();
      refreshCannedSelect();
    }
  }

  async function addToken(event) {
    event.preventDefault();
    const result = await adminDo("POST", "/api/tokens", { name: $("token-name").value });
    if (result) {
      $("token-form").reset();
      adminBanner(["Token created. Copy it now, it is not shown again: ", el("span", { className: "secret", text: result.token })], "info");
    }
  }

  function refreshCannedSelect() {
    const select = $("canned");
    clear(select);
    select.append(el("option", { value: "", text: "Canned replies…" }));
    for (const reply of state.canned) select.append(el("option", { value: String(reply.id), text: reply.title }));
    select.hidden = state.canned.length === 0;
  }

  // --- start --------------------------------------------------------------------------------

  async function start() {
    const session = await api("GET", "/api/session");
    state.me = session.agent;
    state.csrf = session.csrf_token;
    state.warn = session.reply_by_warning_seconds;
    state.skew = session.now - Date.now() / 1000;
    $("me").append(
      el("span", { className: "me-name", text: state.me.name }),
      el("span", { className: `role role-${state.me.role}`, text: state.me.role === "admin" ? "Admin" : "Agent" }),
    );
    const [agents, canned] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/canned-replies")]);
    state.agents = agents.agents.filter((a) => a.active !== false);
    state.canned = canned.canned_replies;
    const select = $("canned");
    refreshCannedSelect();
    if (state.me.role === "admin") {
      $("admin-open").hidden = false;
      $("admin-open").addEventListener("click", () => openAdmin().catch((e) => adminBanner(sentence(e.message), "error")));
      $("admin-close").addEventListener("click", closeAdmin);
      $("agent-form").addEventListener("submit", addAgent);
      $("canned-form").addEventListener("submit", addCanned);
      $("token-form").addEventListener("submit", addToken);
      // The campaigns' live counts, while the admin page is open.
      setInterval(() => {
        if (!$("admin").hidden) loadCampaigns().catch(() => {});
      }, 2000);
    }
    $("start-form").addEventListener("submit", startConversation);

    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => {
        state.tab = tab.dataset.tab;
        renderQueue();
      });
    }
    for (const button of document.querySelectorAll(".mode")) {
      button.addEventListener("click", () => {
        if (!button.disabled) setMode(button.dataset.mode, true);
      });
    }
    select.addEventListener("change", () => {
      const reply = state.canned.find((r) => String(r.id) === select.value);
      if (reply) {
        const box = $("composer-text");
        box.value = box.value ? `${box.value}\n${reply.text}` : reply.text;
        box.focus();
      }
      select.value = "";
    });
    $("act-claim").addEventListener("click", () => act("claim"));
    $("act-release").addEventListener("click", () => act("release"));
    $("act-resolve").addEventListener("click", () => act("resolve", { seen: seenId() }));
    $("act-handback").addEventListener("click", () => act("hand-back", { seen: seenId() }));
    $("assign-to").addEventListener("change", (event) => {
      const value = event.target.value;
      if (value) act("assign", { agent_id: Number(value) });
    });
    $("composer").addEventListener("submit", send);
    $("attach-input").addEventListener("change", showAttachment);
    $("attach-remove").addEventListener("click", removeAttachment);
    $("composer-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
    });
    $("logout").addEventListener("click", async () => {
      try {
        await api("DELETE", "/api/session");
      } finally {
        window.location.assign("/console/login");
      }
    });
    await loadQueue();
    connect();
    setInterval(tick, 1000);
    tick();
    document.body.classList.add("ready");
  }

  start().catch((error) => {
    if (error && error.status !== 401) banner(sentence(error.message || "Baton could not be reached"), "error");
  });
})();
