// The alarm table's actions: each button posts its action with the session's CSRF token and
// shows the controller's answer; the table is reloaded when the alarms change.
(function () {
  "use strict";
  const table = document.getElementById("alarm-table");
  if (!table) { return; }
  const csrf = table.dataset.csrf;
  const message = document.getElementById("alarm-message");
  let pending = false;  // an action was taken: show its outcome as soon as it is journaled

  function field(name, key) {
    const input = table.querySelector(`input[name="${name}"][data-for="${CSS.escape(key)}"]`);
    return input ? input.value : "";
  }

  async function act(button) {
    const key = button.dataset.alarm;
    const verb = button.dataset.verb;
    const slash = key.indexOf("/");
    const body = new URLSearchParams();
    if (verb === "shelve") {
      body.set("text", field("reason", key));
      body.set("duration", field("duration", key));
    } else if (verb === "comment") {
      body.set("text", field("comment", key));
    }
    button.disabled = true;
    const url = `/alarms/${encodeURIComponent(key.slice(0, slash))}/` +
      `${encodeURIComponent(key.slice(slash + 1))}/${verb}`;
    try {
      const answer = await fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "Accept": "application/json"},
      });
      const data = await answer.json();
      if (answer.ok) {
        message.textContent = `${key}: ${verb} done, now ${data.state.replace(/_/g, " ")}`;
        message.className = "ok";
        pending = true;
      } else {
        message.textContent = `${key}: ${verb} refused: ${data.error}`;
        message.className = "refused";
        button.disabled = false;
      }
    } catch (error) {
      message.textContent = `${key}: ${verb} failed: ${error}`;
      message.className = "refused";
      button.disabled = false;
    }
  }

  table.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-verb]");
    if (button) { act(button); }
  });

  // the banner says how far the journal has been read: when it is past what the table shows,
  // the table is shown again, unless the operator is typing in it
  document.addEventListener("geoscada:alarms", (event) => {
    if (String(event.detail.journal) === table.dataset.journal) { return; }
    const typing = Array.from(table.querySelectorAll("input")).some(
      (input) => input.value !== "" || input === document.activeElement);
    if (!typing || pending) { window.location.reload(); }
  });
})();
