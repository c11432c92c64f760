// The console's login page. Customer data never appears here; errors are shown as text.
"use strict";

(function () {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const response = await fetch("/api/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          email: document.getElementById("email").value,
          password: document.getElementById("password").value,
        }),
      });
      if (response.ok) {
        window.location.assign("/console");
        return;
      }
      let message = "Could not log in.";
      try {
        const body = await response.json();
        if (body && body.error && body.error.message) {
          message = body.error.message.charAt(0).toUpperCase() + body.error.message.slice(1) + ".";
        }
      } catch (_) { /* not JSON */ }
      showError(message);
    } catch (_) {
      showError("Baton cannot be reached. Check your connection and try again.");
    } finally {
      submit.disabled = false;
    }
  });
})();
