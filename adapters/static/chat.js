"use strict";
// Customer text is always inserted with textContent, never as HTML.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  let after = 0;

  function bubble(text, who, choices) {
    const div = document.createElement("div");
    div.className = "msg " + who;
    div.textContent = text;
    if (choices && choices.length) {
      const row = document.createElement("div");
      row.className = "choices";
      for (const [value, label] of choices) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.addEventListener("click", () => send({ choice: value }, label));
        row.appendChild(b);
      }
      div.appendChild(row);
    }
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }

  async function send(body, shown) {
    bubble(shown, "me");
    const r = await fetch("/chat/api/messages", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "same-origin",
    });
    if (!r.ok) bubble("Not sent: " + (await r.text()), "bot");
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }, text);
  });

  async function poll() {
    for (;;) {
      try {
        const r = await fetch("/chat/api/messages?after=" + after, { credentials: "same-origin" });
        if (!r.ok) { await new Promise((ok) => setTimeout(ok, 2000)); continue; }
        const data = await r.json();
        for (const m of data.replies) { after = Math.max(after, m.seq); bubble(m.text, "bot", m.choices); }
      } catch (err) {
        await new Promise((ok) => setTimeout(ok, 2000));
      }
    }
  }
  poll();
  input.focus();
})();
