// Roost dashboard: local times (UTC on hover), confirmations, and the live parts over SSE
// (the apps overview's figures, an app's log, a running build).
"use strict";

function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (!isNaN(at)) { el.textContent = fmt.format(at); }
  }
}

function confirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) { ev.preventDefault(); return; }
      for (const b of form.querySelectorAll("button")) { b.disabled = true; }
      // a disabled button is not sent, so the form is submitted as is; show progress
      const note = document.createElement("span");
      note.className = "muted working";
      note.textContent = " working…";
      form.appendChild(note);
    });
  }
}

function append(pre, line) {
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.appendChild(document.createTextNode(line + "\n"));
  if (atBottom) { pre.scrollTop = pre.scrollHeight; }
}

function logStream() {
  const pre = document.getElementById("app-log");
  if (!pre || !pre.dataset.sse) { return; }
  const state = document.getElementById("log-state");
  const source = new EventSource(pre.dataset.sse);
  source.addEventListener("line", (ev) => append(pre, ev.data));
  source.addEventListener("open", () => { if (state) { state.textContent = "live"; } });
  source.addEventListener("error", () => { if (state) { state.textContent = "reconnecting…"; } });
  source.addEventListener("end", (ev) => {
    source.close();
    if (state) { state.textContent = ev.data || "ended"; }
  });
  pre.scrollTop = pre.scrollHeight;
}

function buildStream() {
  const pre = document.getElementById("build-log");
  if (!pre || !pre.dataset.sse) { return; }
  const status = document.getElementById("build-status");
  const url = pre.dataset.sse + "?offset=" + encodeURIComponent(pre.dataset.offset || "0");
  const source = new EventSource(url);
  source.addEventListener("line", (ev) => append(pre, ev.data));
  source.addEventListener("end", (ev) => {
    source.close();
    const end = JSON.parse(ev.data);
    if (status) {
      status.textContent = end.status + (end.release ? " · release v" + end.release +
        (end.release_status ? " " + end.release_status : "") : "");
      status.className = end.status === "succeeded" ? "up" : "down";
    }
    if (end.error) { append(pre, "!     " + end.error); }
  });
  source.addEventListener("error", () => {
    if (status && source.readyState === EventSource.CLOSED) { status.textContent = "disconnected"; }
  });
}

const STATUS_CLASS = { running: "up", down: "down", degraded: "warn" };

function appsStream() {
  const table = document.getElementById("apps");
  if (!table || !table.dataset.sse) { return; }
  const source = new EventSource(table.dataset.sse);
  source.addEventListener("apps", (ev) => {
    for (const a of JSON.parse(ev.data)) {
      const row = table.querySelector("tr[data-app='" + CSS.escape(a.name) + "']");
      if (!row) { continue; }
      const status = row.querySelector("td.status");
      status.textContent = a.status;
      status.className = "status " + (STATUS_CLASS[a.status] || "muted");
      row.querySelector("td.procs").textContent = a.up + "/" + a.total;
      const release = row.querySelector("td.release");
      const shown = a.release ? "v" + a.release : "–";
      if (release.textContent !== shown) {
        release.textContent = "";
        if (a.release) {
          const link = document.createElement("a");
          link.href = "/apps/" + encodeURIComponent(a.name) + "/releases";
          link.textContent = shown;
          release.appendChild(link);
        } else {
          release.textContent = shown;
        }
      }
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  confirmations();
  appsStream();
  logStream();
  buildStream();
});
