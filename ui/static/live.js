// The page's one live stream (Server-Sent Events): a snapshot, then changes; the browser
// reconnects by itself and sends the last event id, so nothing in between is lost.
// Other scripts listen with window.geoscadaLive.on("snapshot" | "changes", fn).
(function () {
  "use strict";
  const stations = document.body.dataset.stations;
  const listeners = { snapshot: [], changes: [] };
  const values = {};   // "station/point" -> {v, q, t, r}
  const alarms = {};   // "station" -> {alarm id -> alarm}
  const status = document.getElementById("live-status");

  function key(station, point) { return station + "/" + point; }

  function format(value, unit, scale) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "boolean") return value ? "on" : "off";
    const v = value * (scale || 1);
    const m = Math.abs(v);
    const text = m >= 100 ? v.toFixed(0) : m >= 10 ? v.toFixed(1) : v.toFixed(2);
    return unit ? text + " " + unit : text;
  }

  function goodSum(station, names) {
    let total = 0;
    for (const name of names) {
      const s = values[key(station, name)];
      if (!s || s.q !== "good" || typeof s.v !== "number") return null;
      total += s.v;
    }
    return names.length ? total : null;
  }

  function showValue(el, sample) {
    const unit = el.dataset.unit || "";
    el.textContent = sample ? format(sample.v, unit) + (sample.q === "bad" ? " ✕" : sample.q === "uncertain" ? " ?" : "") : "—";
    el.classList.toggle("q-bad", !!sample && sample.q === "bad");
    el.classList.toggle("q-uncertain", !!sample && sample.q === "uncertain");
    if (sample) el.setAttribute("data-q", sample.q); else el.removeAttribute("data-q");
    if (sample && sample.q !== "good") el.setAttribute("title", sample.q + (sample.r ? ": " + sample.r : ""));
  }

  function refreshPoint(station, point) {
    const sample = values[key(station, point)];
    document.querySelectorAll('[data-station="' + station + '"][data-point="' + point + '"]').forEach(function (el) { showValue(el, sample); });
    document.querySelectorAll('[data-station="' + station + '"][data-quality-of="' + point + '"]').forEach(function (el) { el.textContent = sample ? sample.q + (sample.r ? " (" + sample.r + ")" : "") : "—"; });
    document.querySelectorAll('[data-station="' + station + '"][data-run-state="' + point + '"]').forEach(function (el) {
      el.classList.toggle("running", !!sample && sample.q === "good" && sample.v === true);
      el.classList.toggle("stopped", !!sample && sample.q === "good" && sample.v === false);
      el.classList.toggle("stale", !!sample && sample.q !== "good");
    });
    document.querySelectorAll('[data-station="' + station + '"][data-fault="' + point + '"]').forEach(function (el) {
      el.classList.toggle("fault", !!sample && sample.q === "good" && sample.v === true);
    });
  }

  function refreshFigures(station) {
    document.querySelectorAll('[data-station="' + station + '"][data-sum]').forEach(function (el) {
      el.textContent = format(goodSum(station, el.dataset.sum.split(",")), el.dataset.unit);
    });
    document.querySelectorAll('[data-station="' + station + '"][data-ratio]').forEach(function (el) {
      const parts = el.dataset.ratio.split("/");
      const num = goodSum(station, parts[0].split(",")), den = goodSum(station, parts[1].split(","));
      el.textContent = (num === null || den === null || den <= 0) ? "—" : format(num / den, el.dataset.unit, Number(el.dataset.scale || 1));
    });
  }

  function ago(since) {
    if (!since) return "";
    const s = Math.max(0, (Date.now() - Date.parse(since)) / 1000);
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function showState(station, state) {
    document.querySelectorAll('[data-station-state="' + station + '"]').forEach(function (el) {
      el.dataset.alive = JSON.stringify(state.alive);
      el.dataset.since = state.since || "";
      const word = state.alive === true ? "alive" : state.alive === false ? "dead" : "unknown";
      const since = state.since ? new Date(state.since) : null;
      const sameDay = since && since.toDateString() === new Date().toDateString();
      const when = since ? (sameDay ? "" : since.toLocaleDateString() + " ") + since.toLocaleTimeString([], { hour12: false }) : "";
      el.textContent = word + (since ? " since " + when + " (" + ago(state.since) + ")" : "");
      el.title = since ? since.toISOString() : "";
      el.classList.toggle("dead", state.alive === false);
      el.classList.toggle("alive", state.alive === true);
    });
  }

  const SHOWN = ["unacknowledged", "acknowledged", "rtn_unacknowledged", "latched"];
  const SHAPES = {
    high: '<polygon points="8,0 16,15 0,15" class="ind-high"/><text x="8" y="13" text-anchor="middle" class="ind-text">1</text>',
    medium: '<polygon points="8,0 16,8 8,16 0,8" class="ind-medium"/><text x="8" y="12" text-anchor="middle" class="ind-text">2</text>',
    low: '<rect x="1" y="1" width="14" height="14" class="ind-low"/><text x="8" y="12" text-anchor="middle" class="ind-text">3</text>'
  };

  function showAlarms(station) {
    const active = Object.values(alarms[station] || {}).filter(function (a) { return SHOWN.indexOf(a.state) >= 0; });
    const counts = { high: 0, medium: 0, low: 0 };
    const worst = {};
    const rank = { high: 3, medium: 2, low: 1 };
    active.forEach(function (a) {
      counts[a.priority] = (counts[a.priority] || 0) + 1;
      if (a.equipment && (!worst[a.equipment] || rank[a.priority] > rank[worst[a.equipment]])) worst[a.equipment] = a.priority;
    });
    document.querySelectorAll('[data-alarm-count="' + station + '"]').forEach(function (el) {
      const n = counts[el.dataset.priority] || 0;
      el.textContent = String(n);
      el.classList.toggle("nonzero", n > 0);
    });
    document.querySelectorAll('[data-equipment-alarm^="' + station + '/"]').forEach(function (el) {
      const equipment = el.dataset.equipmentAlarm.slice(station.length + 1);
      const p = worst[equipment];
      el.innerHTML = p ? SHAPES[p] : "";
      el.setAttribute("visibility", p ? "visible" : "hidden");
      el.setAttribute("data-priority", p || "");
    });
    showBanner();
  }

  function showBanner() {
    const banner = document.getElementById("alarm-banner");
    if (!banner || banner.dataset.owner) return;  // a richer banner script took it over
    let total = 0, unack = 0, high = 0;
    Object.values(alarms).forEach(function (byId) {
      Object.values(byId).forEach(function (a) {
        if (SHOWN.indexOf(a.state) < 0) return;
        total += 1;
        if (a.state === "unacknowledged" || a.state === "rtn_unacknowledged") unack += 1;
        if (a.priority === "high") high += 1;
      });
    });
    banner.classList.toggle("active", total > 0);
    banner.querySelector(".banner-text").textContent = total ? total + " active alarms (" + high + " high), " + unack + " unacknowledged" : "No active alarms";
  }

  function apply(change) {
    const station = change.station;
    if (change.values) {
      Object.keys(change.values).forEach(function (p) { values[key(station, p)] = change.values[p]; refreshPoint(station, p); });
      refreshFigures(station);
    }
    if (change.state) showState(station, change.state);
    if (change.alarm) {
      alarms[station] = alarms[station] || {};
      alarms[station][change.alarm.alarm] = change.alarm;
      showAlarms(station);
    }
  }

  function snapshot(message) {
    Object.keys(message.stations).forEach(function (station) {
      const s = message.stations[station];
      Object.keys(s.values).forEach(function (p) { values[key(station, p)] = s.values[p]; refreshPoint(station, p); });
      refreshFigures(station);
      showState(station, s);
      alarms[station] = {};
      s.alarms.forEach(function (a) { alarms[station][a.alarm] = a; });
      showAlarms(station);
    });
  }

  window.geoscadaLive = {
    values: values, alarms: alarms, format: format,
    on: function (kind, fn) { listeners[kind].push(fn); }
  };
  if (!stations) return;
  const source = new EventSource("/live?stations=" + encodeURIComponent(stations));
  source.addEventListener("snapshot", function (e) {
    const message = JSON.parse(e.data);
    snapshot(message);
    listeners.snapshot.forEach(function (fn) { fn(message); });
    document.body.dataset.liveSeq = e.lastEventId;
  });
  source.addEventListener("changes", function (e) {
    const changes = JSON.parse(e.data);
    changes.forEach(apply);
    listeners.changes.forEach(function (fn) { fn(changes); });
    document.body.dataset.liveSeq = e.lastEventId;
  });
  source.onopen = function () { if (status) { status.textContent = "live"; status.classList.remove("down"); } };
  source.onerror = function () { if (status) { status.textContent = "reconnecting…"; status.classList.add("down"); } };
  setInterval(function () {
    document.querySelectorAll("[data-station-state]").forEach(function (el) {
      if (el.dataset.since) showState(el.dataset.stationState, { alive: JSON.parse(el.dataset.alive || "null"), since: el.dataset.since });
    });
  }, 30000);
})();
