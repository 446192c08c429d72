// Follows a sent command until its gateway's acknowledgement (outcome and read-back) is in.
(function () {
  "use strict";
  const table = document.getElementById("command-result");
  if (!table) { return; }
  async function follow() {
    const answer = await fetch(table.dataset.url, {
      credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (answer.ok) {
      const data = await answer.json();
      if (data.outcome !== null) {
        table.querySelector('[data-field="outcome"]').textContent = data.outcome;
        table.querySelector('[data-field="reason"]').textContent = data.reason || "";
        table.querySelector('[data-field="readback"]').textContent =
          data.readback === null ? "—" : String(data.readback);
        table.dataset.outcome = data.outcome;
        return;
      }
    }
    setTimeout(follow, 500);
  }
  follow();
})();
