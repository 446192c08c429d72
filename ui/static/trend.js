// The trend tool: asks the server for at most two vertices per pixel column of the chart,
// draws them with uPlot, breaks the line where the server put a null (an outage, a lost
// batch, a bad-quality run) and shades those spans, at least one pixel wide, so a short
// outage stays visible on a year's trend.
(function () {
  "use strict";

  const PENS = ["#1f4e9c", "#7a3e00", "#2f6f3e", "#6b2f7a", "#00727a", "#5a5a00", "#8a1f3a", "#404040"];
  const SOURCES = { raw: "raw samples", "1m": "1-minute rollups", "15m": "15-minute rollups",
                    "1h": "hourly rollups", "1d": "daily rollups" };
  const KINDS = { outage: "station outage", seq_gap: "lost batches", bad_quality: "bad quality" };

  const form = document.getElementById("trend-form");
  const chartBox = document.getElementById("trend-chart");
  const status = document.getElementById("trend-status");
  const missingTable = document.getElementById("trend-missing");
  let chart = null;

  function hatch(ctx) {
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const t = tile.getContext("2d");
    t.fillStyle = "rgba(199, 120, 0, 0.18)";
    t.fillRect(0, 0, 8, 8);
    t.strokeStyle = "rgba(199, 120, 0, 0.75)";
    t.lineWidth = 1.5;
    t.beginPath(); t.moveTo(0, 8); t.lineTo(8, 0); t.stroke();
    return ctx.createPattern(tile, "repeat");
  }

  function request() {
    const params = new URLSearchParams();
    const data = new FormData(form);
    for (const name of data.getAll("point")) {
      if (String(name).trim()) params.append("point", String(name).trim());
    }
    const from = String(data.get("from") || "").trim();
    const to = String(data.get("to") || "").trim();
    const span = String(data.get("span") || "").trim();
    if (from) params.set("from", from); else if (span) params.set("span", span);
    if (to) params.set("to", to);
    return params;
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function fmt(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function listMissing(series) {
    const body = missingTable.tBodies[0];
    body.textContent = "";
    let shown = 0, total = 0;
    for (const s of series) {
      for (const m of s.missing) {
        total += 1;
        if (shown >= 200) continue;
        shown += 1;
        const row = body.insertRow();
        row.className = "kind-" + m.kind;
        for (const text of [s.point, KINDS[m.kind] || m.kind, fmt(m.start), fmt(m.end), m.reason || ""]) {
          row.insertCell().textContent = text;
        }
      }
    }
    if (total > shown) {
      body.insertRow().insertCell().textContent = `… and ${total - shown} more`;
    }
    missingTable.hidden = total === 0;
  }

  function options(body, width) {
    const units = [...new Set(body.series.map((s) => s.unit || ""))];
    let pattern = null;
    const scales = { x: { time: true, range: [body.start, body.end] } };
    for (const unit of units) scales[unit] = { auto: true };
    return {
      width: width,
      height: 420,
      scales: scales,
      series: [{}].concat(body.series.map((s, i) => ({
        label: s.point + (s.unit ? ` (${s.unit})` : ""),
        scale: s.unit || "",
        stroke: PENS[i % PENS.length],
        width: 1.25,
        spanGaps: false,
        points: { show: false },
      }))),
      axes: [{}].concat(units.map((unit, i) => ({
        scale: unit, label: unit, side: i % 2 ? 1 : 3, grid: { show: i === 0 },
      }))),
      hooks: {
        drawClear: [(u) => {
          const ctx = u.ctx;
          pattern = pattern || hatch(ctx);
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          for (const s of body.series) {
            for (const m of s.missing) {
              const x0 = u.valToPos(m.start, "x", true);
              const x1 = Math.max(u.valToPos(m.end, "x", true), x0 + 1);
              ctx.fillStyle = m.kind === "bad_quality" ? pattern : "rgba(96, 96, 96, 0.28)";
              ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  async function draw() {
    const params = request();
    if (!params.getAll("point").length) return;
    const width = Math.max(300, Math.floor(chartBox.clientWidth || Number(chartBox.dataset.width)));
    params.set("width", String(Math.min(4000, Math.max(100, width - 60))));
    chartBox.dataset.ready = "";
    say("Loading…");
    const began = performance.now();
    let response, body;
    try {
      response = await fetch("/api/trend?" + params.toString(),
                             { headers: { accept: "application/json" }, credentials: "same-origin" });
      body = await response.json();
    } catch (error) {
      say("The trend could not be loaded: " + error, true);
      chartBox.dataset.ready = "error";
      return;
    }
    const received = performance.now();
    if (!response.ok) {
      say(body.error || `refused (${response.status})`, true);
      chartBox.dataset.ready = "error";
      return;
    }
    const tables = body.series.map((s) => [s.times, s.values]);
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables, tables.map(() => [0, 2]));
    if (chart) chart.destroy();
    chartBox.textContent = "";
    chart = new uPlot(options(body, width), data, chartBox);
    listMissing(body.series);
    requestAnimationFrame(() => {
      const shown = performance.now();
      const vertices = body.series.reduce((n, s) => n + s.vertices, 0);
      window.trendTiming = { server_ms: body.server_ms, fetch_ms: received - began,
                             draw_ms: shown - received, total_ms: shown - began,
                             since_navigation_ms: shown, vertices: vertices };
      say(`${vertices.toLocaleString()} vertices from ${SOURCES[body.source] || body.source} · ` +
          `server ${body.server_ms} ms · drawn in ${Math.round(shown - began)} ms`);
      chartBox.dataset.ready = "1";
    });
  }

  window.addEventListener("DOMContentLoaded", draw);
})();
