"use strict";
// The Baton sandbox: a pane per emulated channel where you play the customer. Every text from the bot or the
// customer is inserted with textContent, never as HTML.
(function () {
  const API = "/sandbox/api/";
  const CUSTOMER = "Alex";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function pause(ms) {
    return new Promise((done) => setTimeout(done, ms));
  }

  async function reason(response) {
    const text = (await response.text()).trim();
    return "HTTP " + response.status + (text ? ": " + text.slice(0, 200) : "");
  }

  class Pane {
    constructor(root, info) {
      this.root = root;
      this.channel = root.dataset.channel;
      this.log = root.querySelector(".log");
      this.status = root.querySelector("[data-field=status]");
      this.input = root.querySelector("input[name=text]");
      this.after = 0;
      const bot = root.querySelector("[data-field=bot]");
      if (bot && info.bot) bot.textContent = info.bot;
      this.note("You are " + info.you + ".");
      root.querySelector("form").addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.input.value.trim();
        if (!text) return;
        this.input.value = "";
        this.send({ text: text });
      });
      this.status.textContent = "Ready.";
    }

    async send(body) {
      this.status.textContent = "Sending the webhook\u2026";
      try {
        const response = await fetch(API + this.channel + "/messages", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
          credentials: "same-origin",
        });
        const type = response.headers.get("Content-Type") || "";
        if (!type.startsWith("application/json")) {
          this.status.textContent = "Not sent: " + (await reason(response));
          return;
        }
        const result = await response.json();
        this.status.textContent = "POST " + result.webhook + " \u2192 " + result.status + " ";
        const check = result.ok ? result.signed_with + " \u2713" : "refused";
        this.status.appendChild(el("span", "check", "\u00b7 " + check));
      } catch (err) {
        this.status.textContent = "Not sent: " + err;
      }
    }

    async poll() {
      for (;;) {
        try {
          const response = await fetch(
            API + this.channel + "/messages?after=" + this.after,
            { credentials: "same-origin", cache: "no-store" },
          );
          if (response.ok) {
            const data = await response.json();
            for (const message of data.messages) {
              this.after = Math.max(this.after, message.seq);
              this.show(message);
            }
            continue;
          }
          this.status.textContent = "Lost the server: " + (await reason(response));
        } catch (err) {
          this.status.textContent = "Lost the server; trying again\u2026";
        }
        await pause(2000);
      }
    }

    note(text) {
      this.append(el("div", "note", text));
    }

    show(message) {
      if (message.from === "note") {
        this.note(message.text);
      } else if (message.kind === "press") {
        const who = this.channel === "slack" ? CUSTOMER + " clicked " : "You pressed ";
        this.note(who + "\u201c" + message.text + "\u201d");
      } else if (this.channel === "slack") {
        this.slackMessage(message);
      } else {
        this.bubble(message);
      }
    }

    bubble(message) {
      const mine = message.from === "customer";
      const row = el("div", "row " + (mine ? "me" : "them"));
      const bubble = el("div", "bubble");
      const text = message.kind === "contact" ? "Shared my phone number " + message.text : message.text;
      bubble.appendChild(el("div", "text", text));
      for (const media of message.media) bubble.appendChild(el("div", "media", "\ud83d\udcce " + media));
      bubble.appendChild(el("span", "time", clock(message.at)));
      row.appendChild(bubble);
      if (message.buttons.length) row.appendChild(this.buttons(message.buttons, "keyboard"));
      this.append(row);
    }

    slackMessage(message) {
      const mine = message.from === "customer";
      const row = el("div", "post " + (mine ? "me" : "them"));
      row.appendChild(el("div", "avatar", mine ? CUSTOMER[0] : "B"));
      const body = el("div", "body");
      const meta = el("div", "meta");
      meta.appendChild(el("b", "", mine ? CUSTOMER : "baton"));
      if (!mine) meta.appendChild(el("span", "app", "APP"));
      meta.appendChild(el("span", "time", clock(message.at)));
      body.appendChild(meta);
      body.appendChild(el("div", "text", message.text));
      for (const media of message.media) body.appendChild(el("div", "media", "\ud83d\udcce " + media));
      if (message.buttons.length) body.appendChild(this.buttons(message.buttons, "actions"));
      row.appendChild(body);
      this.append(row);
    }

    buttons(buttons, className) {
      const box = el("div", className);
      for (const button of buttons) {
        const node = el("button", "", button.label);
        node.type = "button";
        node.addEventListener("click", () => this.send(button.send));
        box.appendChild(node);
      }
      return box;
    }

    append(node) {
      this.log.appendChild(node);
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  function switchOff(root, why) {
    root.classList.add("disabled");
    for (const control of root.querySelectorAll("input, button")) control.disabled = true;
    const off = root.querySelector(".off");
    off.textContent = why;
    off.hidden = false;
    root.querySelector("[data-field=status]").textContent = "";
  }

  // "Be one customer on all of them": the server says "link" on the first pane and sends the code
  // from the others, through the same signed webhooks; the panes show every step.
  function linking(channels) {
    const button = document.getElementById("link-all");
    const status = document.getElementById("link-status");
    if (!button || !status) return;
    if (channels < 2) {
      button.disabled = true;
      status.textContent = "Only one pane is in the sandbox: there is nothing to link.";
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      status.className = "";
      status.textContent = "Linking: asking for a code on the first pane and sending it from the others\u2026";
      try {
        const response = await fetch(API + "link", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: "{}",
          credentials: "same-origin",
        });
        const type = response.headers.get("Content-Type") || "";
        if (!type.startsWith("application/json")) throw new Error(await reason(response));
        const result = await response.json();
        status.textContent = result.status;
        status.className = result.ok ? "done" : "failed";
      } catch (err) {
        status.textContent = "Not linked: " + err.message;
        status.className = "failed";
      } finally {
        button.disabled = false;
      }
    });
  }

  // A pane for a registered channel the page has no pane of its own for: the same parts,
  // named as the server names the channel.
  function genericPane(channel, called) {
    const root = el("section", "phone generic");
    root.dataset.channel = channel;
    root.setAttribute("aria-label", called);
    const screen = el("div", "screen");
    const bar = el("header", "bar");
    const avatar = el("div", "avatar", "B");
    avatar.setAttribute("aria-hidden", "true");
    const who = el("div", "who");
    const name = el("div", "name", "Baton");
    name.dataset.field = "bot";
    who.append(name, el("div", "sub", called));
    bar.append(avatar, who, el("div", "platform", called));
    const log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", called + " conversation");
    const status = el("p", "status", "Not connected yet.");
    status.dataset.field = "status";
    const form = el("form", "compose");
    const input = el("input");
    for (const [key, value] of Object.entries({
      type: "text", name: "text", "aria-label": "Message on " + called, placeholder: "Message",
      autocomplete: "off", maxlength: "1600",
    })) input.setAttribute(key, value);
    const send = el("button", null, "\u27A4");
    send.type = "submit";
    send.setAttribute("aria-label", "Send");
    form.append(input, send);
    const off = el("p", "off");
    off.hidden = true;
    screen.append(bar, log, status, form, off);
    root.append(screen);
    return root;
  }

  async function start() {
    let roots = document.querySelectorAll("[data-channel]");
    let session;
    try {
      const response = await fetch(API + "session", { credentials: "same-origin" });
      if (!response.ok) throw new Error(await reason(response));
      session = await response.json();
    } catch (err) {
      for (const root of roots) switchOff(root, "The sandbox is not available: " + err.message);
      linking(0);
      return;
    }
    const phones = document.querySelector("main.phones");
    for (const [channel, info] of Object.entries(session.channels)) {
      if (phones && !document.querySelector('[data-channel="' + CSS.escape(channel) + '"]')) {
        phones.append(genericPane(channel, info.called || channel));
      }
    }
    roots = document.querySelectorAll("[data-channel]");
    linking(Object.values(session.channels).filter((info) => info.on).length);
    for (const root of roots) {
      const info = session.channels[root.dataset.channel];
      if (!info || !info.on) {
        const name = root.getAttribute("aria-label");
        switchOff(root, name + " has real credentials on this server, so it is not in the sandbox.");
        continue;
      }
      new Pane(root, info).poll();
    }
  }

  start();
})();
