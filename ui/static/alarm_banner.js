// The alarm banner on every page: alarms wanting attention by priority, and the horn. The horn
// sounds while an alarm of horn priority is unacknowledged and not silenced on this page; it
// stops once every one is acknowledged and sounds again for a new annunciation. The alarms that
// keep it sounding are listed on <html data-horn-alarms="station/alarm ...">, named as the
// alarm table names its rows. The figures come from the
// journal the historian stored; the page's live stream says when an alarm moved.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const AFTER_EVENT_MS = [0, 700, 2000];  // the historian stores an event shortly after it
  const slot = document.getElementById("alarm-banner");
  if (!slot) { return; }
  slot.dataset.owner = "alarms";
  const horn = new Audio("/static/alarm-horn.wav");
  horn.loop = true;
  window.geoscadaHorn = horn;
  const silenced = new Set(JSON.parse(sessionStorage.getItem("geoscada-silenced") || "[]"));
  let sounding = [];

  slot.innerHTML =
    '<a class="banner-counts" href="/alarms">' +
    '<span class="banner-high"><span class="alarm-shape shape-high"></span> high <b data-count="high">–</b></span>' +
    '<span class="banner-medium"><span class="alarm-shape shape-medium"></span> medium <b data-count="medium">–</b></span>' +
    '<span class="banner-low"><span class="alarm-shape shape-low"></span> low <b data-count="low">–</b></span>' +
    '<span class="banner-shelved">shelved <b data-count="shelved">–</b></span></a>' +
    '<button type="button" class="banner-silence" hidden>Silence horn</button>' +
    '<span class="banner-note" role="status"></span>';
  const silence = slot.querySelector(".banner-silence");
  const note = slot.querySelector(".banner-note");

  // a horn key is "station/alarm@raised": the alarm, then when this annunciation was raised
  function alarmOf(key) { return key.slice(0, key.lastIndexOf("@")); }

  function sound(keys) {
    sounding = keys.filter((key) => !silenced.has(key));
    const alarms = Array.from(new Set(sounding.map(alarmOf))).sort();
    document.documentElement.dataset.hornAlarms = alarms.join(" ");
    document.documentElement.dataset.horn = sounding.length ? "sounding" : "quiet";
    silence.hidden = sounding.length === 0;
    if (sounding.length && horn.paused) {
      horn.play().then(() => { note.textContent = ""; }).catch(() => {
        note.textContent = "click anywhere to let the horn sound";
      });
    } else if (!sounding.length && !horn.paused) {
      horn.pause();
      horn.currentTime = 0;
    }
  }

  silence.addEventListener("click", () => {
    sounding.forEach((key) => silenced.add(key));
    sessionStorage.setItem("geoscada-silenced", JSON.stringify(Array.from(silenced)));
    sound([]);
  });
  // a browser plays sound only after the operator has touched the page once
  document.addEventListener("click", () => { if (sounding.length) { sound(sounding); } });

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    try {
      const answer = await fetch("/alarms/banner", {
        credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (!answer.ok) { slot.classList.add("banner-stale"); return; }
      const data = await answer.json();
      slot.classList.remove("banner-stale");
      for (const priority of ["high", "medium", "low"]) {
        const count = slot.querySelector(`[data-count="${priority}"]`);
        count.textContent = data.standing[priority];
        count.parentElement.classList.toggle("banner-unacked", data.unacknowledged[priority] > 0);
      }
      slot.querySelector('[data-count="shelved"]').textContent = data.shelved;
      sound(data.horn);
      document.dispatchEvent(new CustomEvent("geoscada:alarms", {detail: data}));
    } catch (error) {
      slot.classList.add("banner-stale");
    } finally {
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }
  function soon() { AFTER_EVENT_MS.forEach((ms) => setTimeout(refresh, ms)); }
  if (window.geoscadaLive) {
    window.geoscadaLive.on("snapshot", soon);
    window.geoscadaLive.on("changes", (changes) => {
      if (changes.some((change) => change.alarm)) { soon(); }
    });
  }
  refresh();
})();
