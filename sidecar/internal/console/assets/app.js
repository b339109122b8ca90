// Turnpike console: hand-written DOM, no framework, no build step.
// Every call goes to /console/api/... with the session cookie; writes carry
// the CSRF token, kept in this variable only (never in storage or a URL).
"use strict";

let csrf = "";
let refreshTimer = null;
const app = document.getElementById("app");

// el builds an element: el("div", {class: "x", onclick: f}, child, "text", ...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "value") e.value = v;
    else if (k === "checked") e.checked = !!v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch("/console/api" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) { showLogin("Your session ended; log in again."); throw new Error("not logged in"); }
  return { status: resp.status, ok: resp.ok, data };
}

function message(r) {
  return (r.data && (r.data.message || r.data.error)) || ("HTTP " + r.status);
}

// ---- login ----

async function start() {
  const r = await fetch("/console/session", { credentials: "same-origin" });
  if (r.ok) { csrf = (await r.json()).csrf; route(); }
  else if (r.status === 503) showLogin("The sidecar cannot reach Redis, where console sessions live; try again shortly.");
  else showLogin();
}

function showLogin(note) {
  stopRefresh();
  csrf = "";
  const secret = el("input", { type: "password", id: "secret", autocomplete: "current-password", required: true });
  const err = el("div", { class: "error", id: "login-error" }, note || "");
  const form = el("form", { class: "card login", onsubmit: async (ev) => {
    ev.preventDefault();
    const resp = await fetch("/console/login", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ secret: secret.value }) });
    secret.value = "";
    if (resp.status === 403) { err.textContent = "Wrong secret."; return; }
    if (!resp.ok) { err.textContent = message({ status: resp.status, data: await resp.json().catch(() => null) }); return; }
    csrf = (await resp.json()).csrf;
    if (!location.hash) location.hash = "#/usage";
    route();
  } },
    el("h2", {}, "Turnpike console"),
    el("div", { class: "field" }, el("label", { for: "secret" }, "Gateway API secret"), secret,
      el("div", { class: "hint" }, "The sidecar's --secret. It is sent once; the console then uses a session cookie.")),
    err,
    el("button", { class: "primary", type: "submit", id: "login" }, "Log in"));
  app.replaceChildren(form);
  secret.focus();
}

async function logout() {
  await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  location.hash = "";
  showLogin();
}

// ---- layout and routing ----

const pages = [
  ["usage", "Usage", usagePage],
  ["apis", "APIs", (m) => listPage(apiKind, m)],
  ["policies", "Policies", (m) => listPage(policyKind, m)],
  ["keys", "Keys", keysPage],
  ["oauth", "OAuth clients", oauthPage],
  ["orgs", "Organisations", (m) => listPage(orgKind, m)],
  ["status", "Status", statusPage],
];

function stopRefresh() { if (refreshTimer) { clearInterval(refreshTimer); refreshTimer = null; } }

function route() {
  if (!csrf) return;
  stopRefresh();
  const [name, ...rest] = (location.hash.replace(/^#\//, "") || "usage").split("/");
  const page = pages.find(p => p[0] === name) || pages[0];
  const main = el("main", { id: "main" });
  app.replaceChildren(
    el("header", {}, el("h1", {}, "Turnpike"),
      el("nav", {}, pages.map(p => el("a", { href: "#/" + p[0], class: p[0] === page[0] ? "active" : null, id: "nav-" + p[0] }, p[1]))),
      el("div", { class: "spacer" }), el("button", { onclick: logout, id: "logout" }, "Log out")),
    main);
  page[2](main, rest.map(decodeURIComponent)).catch(e => main.append(el("div", { class: "notice bad" }, String(e.message || e))));
}
window.addEventListener("hashchange", route);

// ---- forms ----

// A form edits a JSON document: the fields an operator needs most, plus the
// whole document as JSON for everything else. The Gateway API validates;
// its message is shown next to the field it names, or above the form.
//
// fieldFor(message), when given, names the field a message is about for
// messages that do not name it themselves (Tyk's OAuth client messages).
function docForm(fields, doc, onSubmit, submitLabel, fieldFor) {
  doc = JSON.parse(JSON.stringify(doc || {}));
  const inputs = {}, errors = {}, wrappers = {};
  const formError = el("div", { class: "notice bad", hidden: true });
  const raw = el("textarea", { name: "json", spellcheck: "false" });
  const form = el("form", { class: "doc-form", onsubmit: async (ev) => {
    ev.preventDefault();
    clear();
    let d;
    try { d = JSON.parse(raw.value || "{}"); } catch (e) { return fieldError("json", "Not valid JSON: " + e.message); }
    for (const f of fields) {
      const v = readField(f, inputs[f.name]);
      if (v === undefined) continue;
      setPath(d, f.path || f.name, v);
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const r = await onSubmit(d);
      if (r && !r.ok) show(message(r));
    } finally { btn.disabled = false; }
  } });
  for (const f of fields) {
    const v = getPath(doc, f.path || f.name);
    let input;
    if (f.type === "bool") input = el("input", { type: "checkbox", name: f.name, checked: !!v });
    else if (f.type === "select") {
      const opts = f.options.map(o => Array.isArray(o) ? o : [o, o]);
      if (v && !opts.some(o => o[0] === v)) opts.push([v, v + " (not found)"]);
      input = el("select", { name: f.name, disabled: f.readonly && v !== undefined ? true : null },
        opts.map(([val, label]) => el("option", { value: val, selected: (v || "") === val }, label)));
    } else if (f.type === "multi") {
      input = el("select", { name: f.name, multiple: true, size: Math.min(6, Math.max(2, (f.options || []).length)) },
        (f.options || []).map(o => el("option", { value: o, selected: (v || []).includes(o) }, o)));
    } else input = el("input", { type: f.type === "number" ? "number" : "text", name: f.name, step: "any",
      value: v === undefined || v === null ? "" : (f.type === "list" ? (v || []).join(", ") : v),
      readonly: f.readonly && v !== undefined ? true : null, placeholder: f.placeholder || null });
    inputs[f.name] = input;
    errors[f.name] = el("div", { class: "error", "data-error-for": f.name });
    wrappers[f.name] = el("div", { class: "field", "data-field": f.name },
      el("label", {}, f.label), input, f.hint ? el("div", { class: "hint" }, f.hint) : null, errors[f.name]);
    form.append(wrappers[f.name]);
  }
  raw.value = JSON.stringify(doc, null, 2);
  errors.json = el("div", { class: "error", "data-error-for": "json" });
  wrappers.json = el("div", { class: "field", "data-field": "json" },
    el("details", {}, el("summary", {}, "Full document (JSON): every other field"), raw), errors.json);
  form.prepend(formError);
  form.append(wrappers.json, el("button", { class: "primary", type: "submit" }, submitLabel || "Save"));
  return form;

  function clear() {
    formError.hidden = true;
    for (const k of Object.keys(errors)) { errors[k].textContent = ""; wrappers[k].classList.remove("invalid"); }
  }
  function fieldError(name, msg) { errors[name].textContent = msg; wrappers[name].classList.add("invalid"); }
  // show puts a Gateway API message next to the field it names, if any.
  function show(msg) {
    const named = fieldFor && fieldFor(msg);
    if (named && errors[named]) return fieldError(named, msg);
    const f = fields.find(f => mentions(msg, f.name) || (f.path && mentions(msg, f.path.split(".").pop())));
    if (f) fieldError(f.name, msg);
    else { formError.textContent = msg; formError.hidden = false; }
  }
}

function mentions(msg, name) {
  const re = new RegExp("(^|[^a-z_])" + name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "([^a-z_]|$)");
  return re.test(msg);
}

function readField(f, input) {
  if (f.readonly && (input.readOnly || input.disabled)) return undefined;
  if (f.type === "select") return input.value;
  if (f.type === "bool") return input.checked;
  if (f.type === "multi") return Array.from(input.selectedOptions).map(o => o.value);
  const s = input.value.trim();
  if (f.type === "list") return s ? s.split(",").map(x => x.trim()).filter(Boolean) : [];
  if (s === "") return undefined;
  if (f.type === "number") { const n = Number(s); return Number.isNaN(n) ? s : n; }
  return s;
}

function getPath(o, path) { return path.split(".").reduce((a, k) => (a == null ? undefined : a[k]), o); }
function setPath(o, path, v) {
  const ks = path.split(".");
  let cur = o;
  for (const k of ks.slice(0, -1)) { if (typeof cur[k] !== "object" || cur[k] === null) cur[k] = {}; cur = cur[k]; }
  cur[ks[ks.length - 1]] = v;
}

// ---- APIs, policies, organisations: list, search, create, edit, delete ----

async function apiIDs() {
  const r = await call("GET", "/tyk/apis");
  return r.ok ? r.data.map(a => a.api_id) : [];
}

function rightsFor(ids, old) {
  const out = {};
  for (const id of ids) out[id] = (old && old[id]) || { api_id: id, versions: ["Default"] };
  return out;
}

// authMethods names how an API definition authenticates requests.
function authMethods(d) {
  if (d.use_keyless) return "keyless";
  const m = [["use_oauth2", "OAuth 2.0"], ["enable_jwt", "JWT"], ["use_basic_auth", "basic auth"],
    ["enable_signature_checking", "HMAC"], ["use_mutual_tls_auth", "client certificate"]].filter(([k]) => d[k]).map(([, n]) => n);
  if (d.use_standard_auth || !m.length) m.unshift("auth token");
  return m.join(", ");
}

const apiKind = {
  name: "apis", title: "APIs", singular: "API",
  list: async () => (await call("GET", "/tyk/apis")).data || [],
  id: d => d.api_id,
  columns: [["API id", d => d.api_id], ["Name", d => d.name], ["Listen path", d => d.proxy && d.proxy.listen_path],
    ["Authentication", authMethods], ["Active", d => d.active ? "yes" : "no"]],
  blank: { name: "", api_id: "", org_id: "", active: true, use_keyless: false,
    proxy: { listen_path: "/", target_url: "http://upstream", strip_listen_path: true },
    version_data: { not_versioned: true, versions: { Default: { name: "Default" } } } },
  fields: async () => [
    { name: "api_id", label: "API id", readonly: true, hint: "Unique; cannot change once created." },
    { name: "name", label: "Name" },
    { name: "org_id", label: "Organisation id" },
    { name: "listen_path", path: "proxy.listen_path", label: "Listen path", hint: "Requests under this path belong to the API, e.g. /orders/" },
    { name: "target_url", path: "proxy.target_url", label: "Upstream URL" },
    { name: "use_keyless", label: "Keyless (no key required)", type: "bool" },
    { name: "active", label: "Active", type: "bool" },
    { name: "do_not_track", label: "Do not record analytics (do_not_track)", type: "bool" },
    { name: "expire_analytics_after", label: "Analytics records expire after (seconds, 0 = never)", type: "number" },
  ],
  create: d => call("POST", "/tyk/apis", d),
  update: (id, d) => call("PUT", "/tyk/apis/" + encodeURIComponent(id), d),
  remove: id => call("DELETE", "/tyk/apis/" + encodeURIComponent(id)),
};

const policyKind = {
  name: "policies", title: "Policies", singular: "policy",
  list: async () => (await call("GET", "/tyk/policies")).data || [],
  id: d => d.id || d._id,
  columns: [["Policy id", d => d.id], ["Name", d => d.name], ["Rate", d => d.rate ? `${d.rate} / ${d.per}s` : "none"],
    ["Quota", d => d.quota_max > 0 ? `${d.quota_max} / ${d.quota_renewal_rate}s` : "unlimited"],
    ["APIs", d => Object.keys(d.access_rights || {}).join(", ")], ["Active", d => d.active === false ? "no" : "yes"]],
  blank: { id: "", name: "", org_id: "", active: true, rate: 10, per: 60, quota_max: -1, quota_renewal_rate: 3600, access_rights: {} },
  fields: async (doc) => [
    { name: "id", label: "Policy id", readonly: true },
    { name: "name", label: "Name" },
    { name: "org_id", label: "Organisation id" },
    { name: "rate", label: "Rate (requests per window)", type: "number" },
    { name: "per", label: "Window (seconds)", type: "number" },
    { name: "quota_max", label: "Quota (requests per period, -1 = unlimited)", type: "number" },
    { name: "quota_renewal_rate", label: "Quota period (seconds)", type: "number" },
    { name: "apis", label: "APIs this policy grants", type: "multi", options: await apiIDs(), path: "_apis",
      hint: "Ctrl/Cmd-click to choose several." },
    { name: "active", label: "Active", type: "bool" },
  ],
  prepare: (d, old) => { if (d._apis) { d.access_rights = rightsFor(d._apis, old.access_rights); delete d._apis; } return d; },
  load: d => Object.assign({}, d, { _apis: Object.keys(d.access_rights || {}) }),
  create: d => call("POST", "/tyk/policies", d),
  update: (id, d) => call("PUT", "/tyk/policies/" + encodeURIComponent(id), d),
  remove: id => call("DELETE", "/tyk/policies/" + encodeURIComponent(id)),
};

const orgKind = {
  name: "orgs", title: "Organisations", singular: "organisation session",
  list: async () => {
    const ids = ((await call("GET", "/tyk/org/keys")).data || {}).keys || [];
    return Promise.all(ids.map(async id => Object.assign({ org_id: id }, (await call("GET", "/tyk/org/keys/" + encodeURIComponent(id))).data)));
  },
  id: d => d.org_id,
  columns: [["Organisation", d => d.org_id], ["Quota", d => d.quota_max > 0 ? `${d.quota_remaining} of ${d.quota_max} left` : "unlimited"],
    ["Inactive", d => d.is_inactive ? "yes" : ""]],
  blank: { org_id: "", quota_max: -1, quota_renewal_rate: 3600, is_inactive: false },
  fields: async () => [
    { name: "org_id", label: "Organisation id", readonly: true },
    { name: "quota_max", label: "Quota (requests per period, -1 = unlimited)", type: "number" },
    { name: "quota_renewal_rate", label: "Quota period (seconds)", type: "number" },
    { name: "is_inactive", label: "Inactive (refuse every key of the organisation)", type: "bool" },
  ],
  // The live organisation quota, and its reset (the filters drop their
  // organisation leases within a poll).
  actions: (d, id, main) => {
    const note = el("div");
    return el("div", { class: "card" }, el("h3", {}, "Live quota"), note,
      el("dl", { class: "kv", id: "org-quota" },
        el("dt", {}, "Remaining"), el("dd", {}, quotaText(d)),
        d.quota_max > 0 && d.quota_renews ? [el("dt", {}, "Renews"), el("dd", {}, new Date(d.quota_renews * 1000).toLocaleString())] : null),
      d.quota_max > 0 ? el("div", { class: "toolbar" }, el("button", { id: "reset-org-quota", onclick: async () => {
        const r = await call("PUT", "/tyk/org/keys/" + encodeURIComponent(id) + "?reset_quota=1", d);
        if (r.ok) editPage(orgKind, main, "edit"); else note.replaceChildren(el("div", { class: "notice bad" }, message(r)));
      } }, "Reset quota")) : null);
  },
  create: d => call("POST", "/tyk/org/keys/" + encodeURIComponent(d.org_id || ""), d),
  update: (id, d) => call("PUT", "/tyk/org/keys/" + encodeURIComponent(id), d),
  remove: id => call("DELETE", "/tyk/org/keys/" + encodeURIComponent(id)),
};

async function listPage(kind, main) {
  main = main || document.getElementById("main");
  const [, , arg] = location.hash.split("/");
  if (arg) return editPage(kind, main, decodeURIComponent(arg));
  const items = await kind.list();
  const search = el("input", { type: "search", placeholder: "Search " + kind.title.toLowerCase(), id: "search" });
  const body = el("tbody");
  const render = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...items.filter(d => !q || JSON.stringify(d).toLowerCase().includes(q)).map(d =>
      el("tr", { class: "clickable", onclick: () => { location.hash = `#/${kind.name}/edit/${encodeURIComponent(kind.id(d))}`; } },
        kind.columns.map(([, f]) => el("td", {}, f(d) ?? "")))));
  };
  search.addEventListener("input", render);
  render();
  main.replaceChildren(el("h2", {}, kind.title),
    el("div", { class: "toolbar" }, search,
      el("button", { class: "primary", id: "new-" + kind.name, onclick: () => { location.hash = `#/${kind.name}/new`; } }, "New " + kind.singular)),
    el("div", { class: "card" }, items.length ? el("table", {}, el("thead", {}, el("tr", {}, kind.columns.map(([h]) => el("th", {}, h)))), body)
      : el("p", { class: "muted" }, "None yet.")));
}

async function editPage(kind, main, mode) {
  const parts = location.hash.split("/");
  const isNew = mode === "new";
  const id = isNew ? "" : decodeURIComponent(parts[3] || "");
  let doc = kind.blank;
  if (!isNew) {
    const all = await kind.list();
    doc = all.find(d => kind.id(d) === id);
    if (!doc) { main.replaceChildren(el("div", { class: "notice bad" }, kind.singular + " " + id + " not found")); return; }
  }
  const loaded = kind.load ? kind.load(doc) : doc;
  const fields = (await kind.fields(loaded)).map(f => (isNew && f.readonly) ? Object.assign({}, f, { readonly: false }) : f);
  const form = docForm(fields, loaded, async (d) => {
    if (kind.prepare) d = kind.prepare(d, doc);
    const r = isNew ? await kind.create(d) : await kind.update(id, d);
    if (r.ok) location.hash = "#/" + kind.name;
    return r;
  }, isNew ? "Create" : "Save");
  main.replaceChildren(el("h2", {}, (isNew ? "New " : "Edit ") + kind.singular + (isNew ? "" : ": " + id)),
    isNew || !kind.actions ? null : kind.actions(doc, id, main),
    el("div", { class: "card" }, form),
    isNew ? null : el("button", { class: "danger", id: "delete", onclick: async () => {
      if (!confirm(`Delete ${kind.singular} ${id}?`)) return;
      const r = await kind.remove(id);
      if (r.ok) location.hash = "#/" + kind.name; else alert(message(r));
    } }, "Delete " + kind.singular));
}

// ---- keys ----

async function policyIDs() {
  const r = await call("GET", "/tyk/policies");
  return r.ok ? r.data.map(p => p.id) : [];
}

async function keysPage(main, args) {
  if (args[0] === "new") return newKeyPage(main);
  if (args[0]) return keyPage(main, args[0]);
  const hashes = ((await call("GET", "/tyk/keys")).data || {}).keys || [];
  const shown = hashes.slice(0, 200);
  const details = await Promise.all(shown.map(async h => ({ hash: h, s: (await call("GET", "/tyk/keys/" + h + "?hashed=1")).data || {} })));
  const search = el("input", { type: "search", placeholder: "Search by alias, hash, policy", id: "search" });
  const body = el("tbody");
  const render = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...details.filter(d => !q || (d.hash + JSON.stringify(d.s)).toLowerCase().includes(q)).map(d =>
      el("tr", { class: "clickable", onclick: () => { location.hash = "#/keys/" + d.hash; } },
        el("td", {}, d.s.alias || el("span", { class: "muted" }, "(no alias)")),
        el("td", {}, el("code", {}, d.hash.slice(0, 16) + "…")),
        el("td", {}, (d.s.apply_policies || []).map(p => el("span", { class: "pill" }, p))),
        el("td", {}, quotaText(d.s)),
        el("td", {}, d.s.is_inactive ? el("span", { class: "pill bad" }, "inactive") : el("span", { class: "pill ok" }, "active")))));
  };
  search.addEventListener("input", render);
  render();
  main.replaceChildren(el("h2", {}, "Keys"),
    el("div", { class: "toolbar" }, search, el("button", { class: "primary", id: "new-key", onclick: () => { location.hash = "#/keys/new"; } }, "New key")),
    el("div", { class: "card" }, hashes.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Alias", "Key hash", "Policies", "Quota", "State"].map(h => el("th", {}, h)))), body)
      : el("p", { class: "muted" }, "No keys yet.")),
    hashes.length > shown.length ? el("p", { class: "muted" }, `Showing 200 of ${hashes.length} keys.`) : null,
    el("p", { class: "muted" }, "Keys are stored hashed: the key itself is shown once, when it is created."));
}

// copyBox shows a value that is shown once (a new key, a client secret)
// with a copy button.
function copyBox(id, buttonID, value) {
  const copy = el("button", { id: buttonID, type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(value); copy.textContent = "Copied"; } catch (e) { copy.textContent = "Select and copy"; }
  } }, "Copy");
  return el("div", { class: "newkey" }, el("code", { id }, value), copy);
}

function quotaText(s) {
  if (!s.quota_max || s.quota_max < 0) return "unlimited";
  return `${s.quota_remaining} of ${s.quota_max} left`;
}

async function newKeyPage(main) {
  const fields = [
    { name: "alias", label: "Alias", hint: "A name for people: who or what uses this key." },
    { name: "org_id", label: "Organisation id" },
    { name: "apply_policies", label: "Policies", type: "multi", options: await policyIDs(),
      hint: "The key gets the rate limits, quotas and APIs of these policies." },
    { name: "expires", label: "Expires (unix seconds, 0 = never)", type: "number" },
  ];
  const out = el("div");
  const form = docForm(fields, { alias: "", org_id: "", apply_policies: [], expires: 0 }, async (d) => {
    const r = await call("POST", "/tyk/keys", d);
    if (r.ok) {
      out.replaceChildren(el("div", { class: "notice ok" }, "Key created. Copy it now: it is not shown again."),
        copyBox("new-key-value", "copy-key", r.data.key),
        el("p", {}, el("a", { href: "#/keys/" + r.data.key_hash }, "See the key's quota and policies")));
      form.hidden = true;
    }
    return r;
  }, "Create key");
  main.replaceChildren(el("h2", {}, "New key"), el("div", { class: "card" }, out, form));
}

async function keyPage(main, hash) {
  const r = await call("GET", "/tyk/keys/" + hash + "?hashed=1");
  if (!r.ok) { main.replaceChildren(el("div", { class: "notice bad" }, message(r)), el("a", { href: "#/keys" }, "Back to keys")); return; }
  const s = r.data;
  const note = el("div");
  const renews = s.quota_renews ? new Date(s.quota_renews * 1000).toLocaleString() : "never";
  const rights = Object.keys(s.access_rights || {});
  main.replaceChildren(el("h2", {}, "Key " + (s.alias || hash.slice(0, 16) + "…")), note,
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h3", {}, "Live quota"),
        el("dl", { class: "kv", id: "quota" },
          el("dt", {}, "Remaining"), el("dd", {}, s.quota_max > 0 ? `${s.quota_remaining} of ${s.quota_max}` : "unlimited"),
          s.quota_max > 0 ? el("dt", {}, "Renews") : null, s.quota_max > 0 ? el("dd", {}, renews) : null,
          el("dt", {}, "Rate limit"), el("dd", {}, s.rate ? `${s.rate} per ${s.per} s` : "none")),
        el("div", { class: "toolbar" },
          el("button", { id: "reset-quota", onclick: async () => {
            const u = await call("PUT", "/tyk/keys/" + hash + "?hashed=1", s);
            if (u.ok) { keyPage(main, hash); } else note.replaceChildren(el("div", { class: "notice bad" }, message(u)));
          } }, "Reset quota"),
          el("button", { class: "danger", id: "revoke", onclick: async () => {
            if (!confirm("Revoke this key? Requests with it are refused within a second.")) return;
            const d = await call("DELETE", "/tyk/keys/" + hash + "?hashed=1");
            if (d.ok) { location.hash = "#/keys"; } else note.replaceChildren(el("div", { class: "notice bad" }, message(d)));
          } }, "Revoke key"))),
      el("div", { class: "card" }, el("h3", {}, "Effective policies"),
        el("p", {}, (s.apply_policies || []).length ? (s.apply_policies || []).map(p => el("a", { class: "pill", href: "#/policies/edit/" + encodeURIComponent(p) }, p)) : "none"),
        el("h3", {}, "APIs"),
        el("p", {}, rights.length ? rights.map(id => el("a", { class: "pill", href: "#/apis/edit/" + encodeURIComponent(id) }, id)) : "none"),
        el("dl", { class: "kv" }, el("dt", {}, "Hash"), el("dd", {}, el("code", {}, hash)),
          el("dt", {}, "Organisation"), el("dd", {}, s.org_id || ""),
          el("dt", {}, "State"), el("dd", {}, s.is_inactive ? "inactive" : "active"),
          el("dt", {}, "Expires"), el("dd", {}, s.expires > 0 ? new Date(s.expires * 1000).toLocaleString() : "never")))),
    el("div", { class: "card" }, el("h3", {}, "Usage of this key (last hour)"), el("div", { id: "key-usage" })),
    el("details", { class: "card" }, el("summary", {}, "Edit the key"),
      docForm([{ name: "alias", label: "Alias" }, { name: "apply_policies", label: "Policies", type: "multi", options: await policyIDs() },
        { name: "is_inactive", label: "Inactive", type: "bool" }], s, async (d) => {
        const u = await call("PUT", "/tyk/keys/" + hash + "?hashed=1&suppress_reset=1", d);
        if (u.ok) keyPage(main, hash);
        return u;
      })));
  const box = document.getElementById("key-usage");
  const u = await call("GET", "/turnpike/v1/usage?by=key&id=" + hash);
  if (u.ok) box.replaceChildren(chartBox(u.data.series, false));
}

// ---- OAuth clients ----

// A client is registered on an OAuth API (use_oauth2) with a policy; its
// access tokens are keys with the policy's session. The Gateway API keeps
// clients per API, so the list reads every OAuth API's clients.

async function oauthAPIs() {
  const r = await call("GET", "/tyk/apis");
  return r.ok ? r.data.filter(a => a.use_oauth2) : [];
}

// Tyk's OAuth client messages do not name the field they are about.
function oauthFieldFor(msg) {
  if (/^API (doesn't exist|is not OAuth2)/.test(msg)) return "api_id";
  if (/^Policy /.test(msg)) return "policy_id";
  if (mentions(msg, "client_id")) return "client_id";
  if (mentions(msg, "meta_data")) return "json";
  return null;
}

function clientPath(apiID, clientID) {
  return "/tyk/oauth/clients/" + encodeURIComponent(apiID) + "/" + encodeURIComponent(clientID);
}

async function oauthPage(main, args) {
  if (args[0] === "new") return newClientPage(main);
  if (args[0] === "edit") return clientPage(main, args[1] || "", args[2] || "");
  const apis = await oauthAPIs();
  const rows = [];
  for (const a of apis) {
    const r = await call("GET", "/tyk/oauth/clients/" + encodeURIComponent(a.api_id));
    for (const c of (r.ok ? r.data : [])) rows.push({ api: a, c });
  }
  const search = el("input", { type: "search", placeholder: "Search by client id, API, policy, description", id: "search" });
  const body = el("tbody");
  const render = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...rows.filter(({ api, c }) => !q ||
      [c.client_id, api.api_id, api.name, c.policy_id, c.redirect_uri, c.description].join(" ").toLowerCase().includes(q)).map(({ api, c }) =>
      el("tr", { class: "clickable", onclick: () => { location.hash = "#/oauth/edit/" + encodeURIComponent(api.api_id) + "/" + encodeURIComponent(c.client_id); } },
        el("td", {}, el("code", {}, c.client_id)), el("td", {}, api.name || api.api_id),
        el("td", {}, c.policy_id ? el("span", { class: "pill" }, c.policy_id) : el("span", { class: "muted" }, "none")),
        el("td", {}, c.redirect_uri || ""), el("td", {}, c.description || ""))));
  };
  search.addEventListener("input", render);
  render();
  main.replaceChildren(el("h2", {}, "OAuth clients"),
    el("div", { class: "toolbar" }, search,
      el("button", { class: "primary", id: "new-client", disabled: apis.length ? null : true, onclick: () => { location.hash = "#/oauth/new"; } }, "New OAuth client")),
    el("div", { class: "card" }, rows.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Client id", "API", "Policy", "Redirect URI", "Description"].map(h => el("th", {}, h)))), body)
      : el("p", { class: "muted" }, apis.length ? "No OAuth clients yet."
        : "No API uses OAuth 2.0 yet: set use_oauth2 (and oauth_meta) on an API, then register its clients here.")),
    el("p", { class: "muted" }, "A client's secret is shown once, when it is created or rotated."));
}

async function newClientPage(main) {
  const apis = await oauthAPIs();
  const fields = [
    { name: "api_id", label: "API", type: "select",
      options: [["", "Every OAuth API of the policy"], ...apis.map(a => [a.api_id, a.name && a.name !== a.api_id ? `${a.name} (${a.api_id})` : a.api_id])],
      hint: "Only APIs with OAuth 2.0 (use_oauth2) take clients." },
    { name: "policy_id", label: "Policy", type: "select", options: [["", "(none)"], ...await policyIDs()],
      hint: "The client's access tokens get this policy's rate limits, quotas and APIs." },
    { name: "redirect_uri", label: "Redirect URI", placeholder: "https://app.example.com/callback",
      hint: "Where the authorization code flow sends the user back. Every grant needs one: a client without it gets no tokens." },
    { name: "description", label: "Description", hint: "Who or what this client is." },
    { name: "client_id", label: "Client id", placeholder: "generated", hint: "Leave empty to have one generated." },
  ];
  const out = el("div");
  const form = docForm(fields, { api_id: "", policy_id: "", redirect_uri: "", description: "", client_id: "", meta_data: null }, async (d) => {
    if (!d.client_id) delete d.client_id;
    const r = await call("POST", "/tyk/oauth/clients/create", d);
    if (r.ok) {
      const apiID = d.api_id || "";
      out.replaceChildren(el("div", { class: "notice ok" }, "OAuth client created. Copy the secret now: the console does not show it again."),
        el("dl", { class: "kv" }, el("dt", {}, "Client id"), el("dd", {}, el("code", { id: "new-client-id" }, r.data.client_id))),
        el("h3", {}, "Client secret"), copyBox("new-client-secret", "copy-secret", r.data.secret),
        el("p", {}, el("a", { href: "#/oauth" }, "Back to OAuth clients"), apiID ? [" · ",
          el("a", { href: "#/oauth/edit/" + encodeURIComponent(apiID) + "/" + encodeURIComponent(r.data.client_id) }, "See the client")] : null));
      form.hidden = true;
    }
    return r;
  }, "Create client", oauthFieldFor);
  main.replaceChildren(el("h2", {}, "New OAuth client"), el("div", { class: "card" }, out, form));
}

async function clientPage(main, apiID, clientID) {
  const path = clientPath(apiID, clientID);
  const r = await call("GET", path);
  if (!r.ok) { main.replaceChildren(el("div", { class: "notice bad" }, message(r)), el("a", { href: "#/oauth" }, "Back to OAuth clients")); return; }
  const c = Object.assign({}, r.data);
  delete c.secret; // shown once, at creation or rotation
  const tokens = await call("GET", path + "/tokens");
  const note = el("div");
  const form = docForm([
    { name: "client_id", label: "Client id", readonly: true },
    { name: "policy_id", label: "Policy", type: "select", options: [["", "(none)"], ...await policyIDs()],
      hint: "The policy must grant this API. A new policy revokes the client's tokens." },
    { name: "redirect_uri", label: "Redirect URI" },
    { name: "description", label: "Description" },
  ], c, async (d) => {
    const u = await call("PUT", path, d);
    if (u.ok) location.hash = "#/oauth";
    return u;
  }, "Save", oauthFieldFor);
  main.replaceChildren(el("h2", {}, "OAuth client " + clientID), note,
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h3", {}, "Client"), el("dl", { class: "kv", id: "client-info" },
        el("dt", {}, "API"), el("dd", {}, el("a", { href: "#/apis/edit/" + encodeURIComponent(apiID) }, apiID)),
        el("dt", {}, "Live access tokens"), el("dd", {}, tokens.ok ? String(tokens.data.length) : message(tokens))),
        el("div", { class: "toolbar" },
          el("button", { id: "rotate-secret", onclick: async () => {
            if (!confirm("Give this client a new secret? Its current tokens are revoked at once.")) return;
            const u = await call("PUT", path + "/rotate");
            if (!u.ok) { note.replaceChildren(el("div", { class: "notice bad" }, message(u))); return; }
            note.replaceChildren(el("div", { class: "notice ok" }, "New secret. Copy it now: the console does not show it again."),
              copyBox("new-client-secret", "copy-secret", u.data.secret));
          } }, "Rotate secret"),
          el("button", { class: "danger", id: "delete-client", onclick: async () => {
            if (!confirm(`Delete OAuth client ${clientID}? Its tokens are revoked at once.`)) return;
            const u = await call("DELETE", path);
            if (u.ok) location.hash = "#/oauth"; else note.replaceChildren(el("div", { class: "notice bad" }, message(u)));
          } }, "Delete client")))),
    el("div", { class: "card" }, el("h3", {}, "Edit"), form));
}

// ---- usage ----

const decisionSeries = [
  { name: "allowed", label: "allowed", color: "#2e8540" },
  { name: "401", label: "401 no key", color: "#8c6bb1" },
  { name: "403", label: "403 refused", color: "#e08a1e" },
  { name: "429", label: "429 rate limited", color: "#c0362c" },
  { name: "quota", label: "quota exceeded", color: "#7a1f1a" },
  { name: "5xx", label: "5xx", color: "#444" },
  { name: "other", label: "other", color: "#a9b4c4" },
];

function chartBox(series, hourly) {
  return el("div", { class: "chart" }, window.stackedChart(series, decisionSeries, { hourly, label: "requests by decision" }),
    el("div", { class: "legend" }, decisionSeries.map(s => {
      // Set through the CSSOM: the Content-Security-Policy refuses style attributes.
      const span = el("span", {}, s.label);
      span.style.setProperty("--c", s.color);
      return span;
    })));
}

async function usagePage(main) {
  const range = el("select", { id: "range" }, [["1h", "Last hour"], ["6h", "Last 6 hours"], ["24h", "Last 24 hours"], ["168h", "Last 7 days"]]
    .map(([v, l]) => el("option", { value: v }, l)));
  const chart = el("div", { class: "card", id: "usage-chart" });
  const tops = el("div", { class: "row", id: "usage-top" });
  const stamp = el("span", { class: "muted" });
  main.replaceChildren(el("h2", {}, "Usage"), el("div", { class: "toolbar" }, range, stamp), chart, tops);
  const load = async () => {
    const hours = parseInt(range.value, 10);
    const from = Math.floor(Date.now() / 1000) - hours * 3600;
    const res = hours > 6 ? "hour" : "minute";
    const q = `from=${from}&res=${res}`;
    const [all, apis, keys, limited, quota] = await Promise.all([
      call("GET", "/turnpike/v1/usage?" + q),
      call("GET", "/turnpike/v1/usage/top?by=api&n=10&" + q),
      call("GET", "/turnpike/v1/usage/top?by=key&n=10&" + q),
      call("GET", "/turnpike/v1/usage/top?by=key&sort=429&n=10&" + q),
      call("GET", "/turnpike/v1/usage/top?by=key&sort=quota&n=10&" + q),
    ]);
    if (!all.ok) { chart.replaceChildren(el("div", { class: "notice bad" }, message(all))); return; }
    const total = all.data.series.reduce((a, p) => a + (p.values.requests || 0), 0);
    chart.replaceChildren(el("h3", {}, `Requests by decision (${total} in range)`), chartBox(all.data.series, res === "hour"));
    tops.replaceChildren(
      topCard("Top APIs", apis, "requests", id => "#/apis/edit/" + encodeURIComponent(id)),
      topCard("Top keys", keys, "requests", id => "#/keys/" + id),
      topCard("Most rate-limited keys (429)", limited, "429", id => "#/keys/" + id),
      topCard("Most quota-exceeded keys", quota, "quota", id => "#/keys/" + id));
    stamp.textContent = "Updated " + new Date().toLocaleTimeString() + " · refreshes every 5 s";
  };
  range.addEventListener("change", load);
  await load();
  refreshTimer = setInterval(() => load().catch(() => {}), 5000);
}

function topCard(title, r, field, link) {
  const rows = r.ok ? r.data.top.filter(e => (e.values[field] || 0) > 0) : [];
  return el("div", { class: "card" }, el("h3", {}, title),
    rows.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Id"),
      field !== "requests" ? el("th", { class: "num" }, field) : null, el("th", { class: "num" }, "requests"))),
      el("tbody", {}, rows.map(e => el("tr", {},
        el("td", {}, el("a", { href: link(e.id) }, el("code", {}, e.id.length > 24 ? e.id.slice(0, 16) + "…" : e.id))),
        field !== "requests" ? el("td", { class: "num" }, e.values[field] || 0) : null,
        el("td", { class: "num" }, e.values.requests || 0)))))
      : el("p", { class: "muted" }, r.ok ? "Nothing in this range." : message(r)));
}

// ---- status ----

async function statusPage(main) {
  const load = async () => {
    const r = await call("GET", "/status");
    if (!r.ok) { main.replaceChildren(el("div", { class: "notice bad" }, message(r))); return; }
    const s = r.data;
    main.replaceChildren(el("h2", {}, "Status"),
      (s.degraded || []).length ? el("div", { class: "notice warn", id: "degraded" }, el("strong", {}, "Degraded: "), s.degraded.join("; "))
        : el("div", { class: "notice ok", id: "degraded" }, "Everything is running normally."),
      el("div", { class: "row" },
        el("div", { class: "card" }, el("h3", {}, "This sidecar"), el("dl", { class: "kv" },
          el("dt", {}, "Instance"), el("dd", {}, s.instance), el("dt", {}, "Version"), el("dd", {}, s.version),
          el("dt", {}, "Ready"), el("dd", {}, s.ready ? "yes" : "no: " + s.ready_error),
          el("dt", {}, "Configuration"), el("dd", {}, el("code", {}, (s.config_version || "").slice(0, 12))))),
        el("div", { class: "card" }, el("h3", {}, "Redis"), el("dl", { class: "kv", id: "redis" },
          el("dt", {}, "Mode"), el("dd", {}, s.redis.mode), el("dt", {}, "URL"), el("dd", {}, s.redis.url || "(in memory)"),
          el("dt", {}, "Health"), el("dd", {}, s.redis.ok ? `ok, ping ${s.redis.ping_ms} ms` : "down: " + s.redis.error))),
        el("div", { class: "card" }, el("h3", {}, "Analytics"), el("dl", { class: "kv" },
          el("dt", {}, "Tyk Pump records"), el("dd", {}, s.analytics.tyk_records ? "on" : "off (--tyk-analytics)"),
          el("dt", {}, "Waiting for Pump"), el("dd", {}, s.analytics.tyk_records ? String(s.analytics.queued) : "-")))),
      el("div", { class: "card" }, el("h3", {}, "Sidecar replicas"), table(["Instance", "Version", "Ready", "Last seen"],
        (s.replicas || []).map(p => [p.id, p.version, p.ready ? "yes" : "no", new Date(p.seen).toLocaleTimeString()]))),
      el("div", { class: "card" }, el("h3", {}, `Connected filters (${(s.filters || []).length} VMs polled in the last 3 s)`),
        table(["VM", "Configuration", "Current", "Last sync"], (s.filters || []).map(f => [f.vm, f.version.slice(0, 12),
          f.current ? "yes" : "no, behind", new Date(f.last_sync).toLocaleTimeString()]))));
  };
  await load();
  refreshTimer = setInterval(() => load().catch(() => {}), 3000);
}

function table(heads, rows) {
  if (!rows.length) return el("p", { class: "muted" }, "None.");
  return el("table", {}, el("thead", {}, el("tr", {}, heads.map(h => el("th", {}, h)))),
    el("tbody", {}, rows.map(r => el("tr", {}, r.map(c => el("td", {}, c))))));
}

start();
