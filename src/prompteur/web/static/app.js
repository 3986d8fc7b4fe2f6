// prompteur's only script: grid pages as the user scrolls, keyboard review, forms sent as
// JSON to the API, and live progress. Text from the server is set with textContent only.
"use strict";

function flash(message, bad) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = message;
  box.className = bad ? "flash bad" : "flash";
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 4000);
}

async function callApi(url, method, body) {
  const headers = { "Accept": "application/json" };
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) headers["X-CSRF-Token"] = token.content;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    let message = (data && data.error) || response.statusText;
    if (data && Array.isArray(data.detail)) message = data.detail.map((d) => d.msg).join("; ");
    throw new Error(message);
  }
  return data;
}

function formBody(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.value === "") continue;
    if (field.type === "number") body[field.name] = Number(field.value);
    else if (field.dataset.list) body[field.name] = field.value.split(",").map((s) => s.trim()).filter(Boolean);
    else body[field.name] = field.value;
  }
  return body;
}

function wireApiControls() {
  for (const form of document.querySelectorAll("form.api-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await callApi(form.dataset.api, form.dataset.method || "POST", formBody(form));
        if (form.dataset.then && data && data.id) location.href = form.dataset.then.replace("{id}", data.id);
        else location.reload();
      } catch (error) { flash(error.message, true); }
    });
  }
  for (const button of document.querySelectorAll("button[data-api]")) {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
      try {
        await callApi(button.dataset.api, button.dataset.method || "POST");
        const row = button.closest("tr");
        if (row) row.remove(); else location.reload();
      } catch (error) { flash(error.message, true); }
    });
  }
}

// --- the grid ------------------------------------------------------------------------------

function cellLink(run, cell) {
  const link = document.createElement("a");
  link.className = "cell " + cell.status + (cell.human ? " human" : "");
  link.href = "/runs/" + encodeURIComponent(run) + "/cells/" + encodeURIComponent(cell.key);
  link.dataset.key = cell.key;
  const verdict = document.createElement("span");
  verdict.className = "verdict";
  verdict.textContent = cell.status + (cell.human ? " (human)" : "");
  const output = document.createElement("span");
  output.className = "output";
  output.textContent = cell.error ? cell.error : (cell.output || "") + (cell.truncated ? "…" : "");
  link.append(verdict, output);
  return link;
}

function gridRow(grid, row) {
  const tr = document.createElement("tr");
  const label = document.createElement("td");
  label.className = "case";
  label.textContent = row.case;
  tr.append(label);
  for (const th of grid.querySelectorAll("thead th[data-column]")) {
    const [prompt, provider] = th.dataset.column.split(":").map(Number);
    const td = document.createElement("td");
    for (const cell of row.cells) {
      if (cell.prompt === prompt && cell.provider === provider) td.append(cellLink(grid.dataset.run, cell));
    }
    tr.append(td);
  }
  return tr;
}

function wireGrid() {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const end = document.getElementById("grid-end");
  const shown = document.getElementById("grid-total");
  const cells = "/api/runs/" + encodeURIComponent(grid.dataset.run) + "/cells";
  let loading = false;
  const query = new URLSearchParams(location.search);
  function counted(total) {
    grid.dataset.total = String(total);
    shown.textContent = String(total);
  }
  if (grid.dataset.total === "") {
    // a new search's first rows came before its count, which comes now
    callApi(cells + "/count?" + query, "GET").then((found) => counted(found.total), (error) => flash(error.message, true));
  }
  // A page that failed stops the loading until the user asks again: scrolling or the loop
  // below would otherwise send a failing server one request after another.
  let failed = false;
  function stopped(message) {
    failed = true;
    end.className = "error";
    end.textContent = "The next rows could not be loaded: " + message + " ";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.id = "grid-retry";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      failed = false;
      end.className = "muted";
      end.textContent = "loading more as you scroll…";
      more();
    });
    end.append(retry);
  }
  async function more() {
    const offset = Number(grid.dataset.offset);
    if (loading || failed || !grid.dataset.more) return;
    loading = true;
    query.set("offset", String(offset));
    query.set("limit", grid.dataset.pageSize);
    try {
      const page = await callApi(cells + "?" + query, "GET");
      const body = grid.tBodies[0];
      // built whole before it is shown: a page that fails halfway adds no row twice on Retry
      const rows = document.createDocumentFragment();
      for (const row of page.rows) rows.append(gridRow(grid, row));
      body.append(rows);
      grid.dataset.offset = String(offset + page.rows.length);
      if (page.total !== null) counted(page.total);
      if (!page.more || page.rows.length === 0) {
        end.textContent = "end of the grid";
        grid.dataset.more = "";
      }
    } catch (error) { stopped(error.message); }
    loading = false;
    if (!failed && grid.dataset.more && end.getBoundingClientRect().top < window.innerHeight + 400) more();
  }
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) more();
  }, { rootMargin: "400px" }).observe(end);
}

// --- keyboard review: j/k move, p/f rate, o opens ------------------------------------------

function wireKeys() {
  const holder = document.getElementById("grid") || document.getElementById("queue-cells");
  if (!holder) return;
  const run = holder.dataset.run;
  const canRate = Boolean(holder.dataset.canRate);
  let selected = null;
  function select(cell) {
    if (selected) selected.classList.remove("selected");
    selected = cell;
    if (cell) { cell.classList.add("selected"); cell.scrollIntoView({ block: "nearest" }); cell.focus(); }
  }
  document.addEventListener("keydown", async (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const cells = Array.from(holder.querySelectorAll("a.cell"));
    const index = selected ? cells.indexOf(selected) : -1;
    if (event.key === "j") select(cells[Math.min(cells.length - 1, index + 1)]);
    else if (event.key === "k") select(cells[Math.max(0, index - 1)]);
    else if (event.key === "o" && selected) location.href = selected.href;
    else if ((event.key === "p" || event.key === "f") && selected && canRate) {
      const verdict = event.key === "p" ? "pass" : "fail";
      try {
        await callApi("/api/runs/" + encodeURIComponent(run) + "/cells/" + encodeURIComponent(selected.dataset.key) + "/ratings", "POST", { verdict });
        selected.classList.remove("pass", "fail", "error", "unrated");
        selected.classList.add(verdict, "human");
        selected.querySelector(".verdict").textContent = verdict + " (human)";
        flash("rated " + selected.dataset.key + " " + verdict);
        select(cells[Math.min(cells.length - 1, index + 1)]);
      } catch (error) { flash(error.message, true); }
    } else return;
    event.preventDefault();
  });
}

// --- live progress of a running run --------------------------------------------------------

function wireLive() {
  const bar = document.getElementById("live");
  if (!bar) return;
  const timer = setInterval(async () => {
    try {
      const run = await callApi("/api/runs/" + encodeURIComponent(bar.dataset.run), "GET");
      bar.value = run.done;
      document.getElementById("run-progress").textContent = run.done + "/" + run.cells;
      document.getElementById("run-status").textContent = run.status;
      const grid = document.getElementById("grid");
      if (grid) grid.dataset.more = "yes";  // new cells load as the user scrolls
      if (run.status !== "running") { clearInterval(timer); bar.remove(); }
    } catch (error) { clearInterval(timer); }
  }, 1500);
}

document.addEventListener("DOMContentLoaded", () => {
  wireApiControls();
  wireGrid();
  wireKeys();
  wireLive();
});
