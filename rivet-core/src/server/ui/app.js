// The inspector page: lists actors by type and key, and shows one actor live (state,
// connections, queue, workflow history, recent turns) through the server's own APIs
// (`actors/names`, `actors`, `gateway/{id}/inspector/...`). Every value from the server is
// written as text, never as HTML. URLs are relative, so the page works where the router is
// nested (`/api/rivet/ui`).
"use strict";

const $ = (id) => document.getElementById(id);
const view = { type: null, actor: null, editing: false, timer: null };

function headers(json) {
  const h = {};
  const token = sessionStorage.getItem("rivet-token");
  if (token) h.Authorization = `Bearer ${token}`;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { value = { message: text }; }
  if (!response.ok) {
    const code = value && value.group ? `${value.group}.${value.code}` : `HTTP ${response.status}`;
    throw new Error(`${code}: ${(value && value.message) || ""}`);
  }
  return value;
}

const inspector = (route) => `gateway/${encodeURIComponent(view.actor.actor_id)}/inspector/${route}`;

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function item(child) {
  const li = el("li");
  li.append(child);
  return li;
}

function row(cells, attrs) {
  const tr = el("tr", undefined, attrs);
  for (const cell of cells) tr.append(el("td", cell));
  return tr;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function time(ms) {
  return ms ? new Date(Number(ms)).toLocaleTimeString() : "";
}

async function loadTypes() {
  const { names } = await api("GET", "actors/names");
  const list = $("types");
  list.replaceChildren();
  for (const name of Object.keys(names).sort()) {
    const button = el("button", name, { type: "button", "data-type": name });
    button.addEventListener("click", () => selectType(name).catch(showError));
    list.append(item(button));
  }
}

async function selectType(name) {
  view.type = name;
  for (const b of $("types").querySelectorAll("button")) {
    b.setAttribute("aria-current", String(b.dataset.type === name));
  }
  const { actors } = await api("GET", `actors?name=${encodeURIComponent(name)}`);
  const list = $("actors");
  list.replaceChildren();
  for (const actor of actors) {
    const label = actor.key === "/" ? "(no key)" : actor.key;
    const button = el("button", label, { type: "button", "data-actor": actor.actor_id, title: actor.actor_id });
    button.addEventListener("click", () => selectActor(actor).catch(showError));
    list.append(item(button));
  }
  showError(null);
}

async function openKey(event) {
  event.preventDefault();
  if (!view.type) throw new Error("Choose an actor type first.");
  const key = $("open-key").value;
  const { actor } = await api("PUT", "actors", { name: view.type, key, runner_name_selector: "default", crash_policy: "sleep" });
  await selectType(view.type);
  await selectActor(actor);
}

async function selectActor(actor) {
  // Selecting the shown actor again (the list refreshed, the hash was set) keeps the last call's
  // output.
  const same = view.actor?.actor_id === actor.actor_id;
  view.actor = actor;
  view.editing = false;
  location.hash = `actor=${encodeURIComponent(actor.actor_id)}`;
  for (const b of $("actors").querySelectorAll("button")) {
    b.setAttribute("aria-current", String(b.dataset.actor === actor.actor_id));
  }
  $("actor").hidden = false;
  $("actor-title").textContent = `${actor.name} ${actor.key === "/" ? "" : actor.key}`;
  $("actor-id").textContent = actor.actor_id;
  const { rpcs } = await api("GET", inspector("rpcs"));
  if (!same) {
    $("rpc").replaceChildren(...rpcs.map((name) => el("option", name, { value: name })));
    $("output").textContent = "";
  }
  setEditing(false);
  await refresh();
  clearInterval(view.timer);
  view.timer = setInterval(() => refresh().catch(showError), 1000);
}

async function refresh() {
  if (!view.actor) return;
  const [summary, queue, traces] = await Promise.all([
    api("GET", inspector("summary")),
    api("GET", inspector("queue?limit=50")),
    api("GET", inspector("traces?limit=1000")),
  ]);
  if (!view.editing) $("state").textContent = pretty(summary.state);
  $("live").textContent = `live, ${new Date().toLocaleTimeString()}`;

  $("connection-count").textContent = `(${summary.connections.length})`;
  $("connections").replaceChildren(
    ...summary.connections.map((c) => el("li", `${c.id} ${pretty(c.details.params)}`)),
  );

  $("queue-size").textContent = `(${queue.size} of ${queue.maxSize})`;
  $("queue").replaceChildren(...queue.messages.map((m) => row([m.id, m.name, time(m.createdAtMs)])));

  const history = summary.workflowHistory;
  const entries = history ? history.entries : [];
  $("workflow").replaceChildren(
    ...entries.map((e) => row([e.id, e.kind.tag.replace(/^Workflow|Entry$/g, ""), history.entryMetadata[e.id].status])),
  );
  if (!history) $("workflow").append(row(["no workflow"]));

  const spans = traces.otlp.resourceSpans[0].scopeSpans[0].spans.filter((s) => s.name !== "commit");
  $("traces").replaceChildren(
    ...spans.slice(-12).reverse().map((s) => {
      const ms = (Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6).toFixed(2);
      const outcome = s.status.code === 2 ? s.status.message : "ok";
      return row([s.name, outcome, ms], s.status.code === 2 ? { class: "failed" } : {});
    }),
  );
  showError(null);
}

async function call(event) {
  event.preventDefault();
  let args;
  try { args = JSON.parse($("args").value || "[]"); } catch (e) { throw new Error(`The arguments are not JSON: ${e.message}`); }
  if (!Array.isArray(args)) throw new Error("The arguments must be a JSON array.");
  try {
    const { output } = await api("POST", inspector(`action/${encodeURIComponent($("rpc").value)}`), { args });
    $("output").textContent = pretty(output === undefined ? null : output);
    $("output").classList.remove("failed");
  } catch (e) {
    $("output").textContent = e.message;
    $("output").classList.add("failed");
  }
  await refresh();
}

function setEditing(on) {
  view.editing = on;
  $("state").hidden = on;
  $("state-edit").hidden = !on;
  $("state-edit-button").hidden = on;
  $("state-save").hidden = !on;
  $("state-cancel").hidden = !on;
  if (on) $("state-edit").value = $("state").textContent;
}

async function saveState() {
  let state;
  try { state = JSON.parse($("state-edit").value); } catch (e) { throw new Error(`The state is not JSON: ${e.message}`); }
  await api("PATCH", inspector("state"), { state });
  setEditing(false);
  await refresh();
}

async function load() {
  await loadTypes();
  // `#actor=<id>` opens that actor (a link to share, or a page reloaded).
  const wanted = new URLSearchParams(location.hash.slice(1)).get("actor");
  if (wanted) {
    const { actors } = await api("GET", `actors?actor_ids=${encodeURIComponent(wanted)}`);
    if (actors.length) {
      await selectType(actors[0].name);
      await selectActor(actors[0]);
    }
  }
  showError(null);
  document.body.dataset.ready = "true";
}

$("token").value = sessionStorage.getItem("rivet-token") || "";
$("token").addEventListener("change", () => {
  sessionStorage.setItem("rivet-token", $("token").value);
  load().catch(showError);
});
$("open").onsubmit = (e) => openKey(e).catch(showError);
$("call").onsubmit = (e) => call(e).catch(showError);
$("state-edit-button").onclick = () => setEditing(true);
$("state-cancel").onclick = () => setEditing(false);
$("state-save").onclick = () => saveState().catch(showError);
load().catch(showError);
