// jobgen dashboard: live updates by polling server-rendered fragments; the bulk form's select-all.
"use strict";
const POLL_MS = 1500;

async function fetchText(url) {
  const response = await fetch(url, { headers: { "Accept": "text/html" } });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.text();
}

// The job list: refresh the rows with the same filter, keeping the ticked jobs ticked.
function liveRows() {
  const live = document.getElementById("live");
  const rows = document.getElementById("rows");
  if (!live || !rows || !live.dataset.rows) { if (live) live.textContent = "not live (a later page or a lookup)"; return; }
  const tick = async () => {
    try {
      const picked = new Set([...rows.querySelectorAll(".pick:checked")].map((c) => c.value));
      const html = await fetchText(live.dataset.rows);
      if (html !== rows.dataset.last) {
        rows.innerHTML = html;
        rows.dataset.last = html;
        rows.querySelectorAll(".pick").forEach((c) => { c.checked = picked.has(c.value); });
      }
      live.textContent = "live · updated " + new Date().toLocaleTimeString();
      live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
    } catch (e) {
      live.textContent = "live updates paused: " + e.message;
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

// A job's page: refresh its panel (status, timeline, log lines) until the job has finished.
function livePanel() {
  const panel = document.getElementById("panel");
  if (!panel || !panel.dataset.panel) return;
  const tick = async () => {
    if (panel.dataset.done) return;
    try {
      const html = await fetchText(panel.dataset.panel);
      panel.innerHTML = html;
      const status = panel.querySelector("#status");
      const finished = ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "LAUNCH_FAILED"];
      if (status && finished.includes(status.textContent.trim())) panel.dataset.done = "1";
    } catch (e) { /* try again next time */ }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

function selectAll() {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", () => {
    document.querySelectorAll("#rows .pick").forEach((c) => { c.checked = all.checked; });
  });
}

document.addEventListener("DOMContentLoaded", () => { liveRows(); livePanel(); selectAll(); });
