// Users: find, page and sort them; change names, groups and roles as the acting
// admin may (the form offers only that; the server decides), unlock, reset a second factor.

import { actor, api, clearErrors, formatTime, h, showErrors, tell } from "./common.js";

const PAGE_SIZE = 25;
const state = { offset: 0, total: 0, groups: [] };
const search = document.getElementById("users-search");
const groupSelect = document.getElementById("users-group");
const roleSelect = document.getElementById("users-role");
const sortSelect = document.getElementById("users-sort");
const tbody = document.querySelector("#users-table tbody");

/** What the acting admin may change of `user`: mirrors the role matrix, for the form only. */
function powers(user) {
  const self = user.id.uuid === actor.id;
  const site = actor.siteAdmin;
  return {
    name: true,
    group: site,
    enabled: !self && (site || !user.siteAdmin),
    siteRead: site,
    groupAdmin: true,
    siteAdmin: site && !self,
    unlock: true,
    resetSecondFactor: site,
  };
}

function roles(user) {
  const badges = [];
  if (user.siteAdmin) badges.push(["primary", "site admin"]);
  if (user.groupAdmin) badges.push(["info", "group admin"]);
  if (user.siteRead) badges.push(["secondary", "site reader"]);
  if (!user.enabled) badges.push(["dark", "disabled"]);
  if (user.lockedUntil) badges.push(["danger", `locked until ${formatTime(user.lockedUntil)}`]);
  return badges.map(([kind, text]) => h("span", { class: `badge text-bg-${kind} me-1` }, text));
}

function query() {
  const params = { limit: PAGE_SIZE, offset: state.offset, sort: sortSelect.value };
  if (search.value.trim()) params.search = search.value.trim();
  if (groupSelect.value) params.groupId = groupSelect.value;
  if (roleSelect.value) params.role = roleSelect.value;
  return params;
}

// The list as last asked for, and the request still on its way: a newer request cancels it,
// so a slow answer to an older search never replaces a newer one.
let shownQuery = "";
let loading = null;

async function load() {
  loading?.abort();
  const current = new AbortController();
  loading = current;
  const params = query();
  shownQuery = JSON.stringify(params);
  try {
    const { items, total } = await api.getPage("/users", params, { signal: current.signal });
    state.total = total;
    render(items);
  } catch (error) {
    if (error.name !== "AbortError") showErrors(error);
  }
}

function render(users) {
  tbody.replaceChildren(...users.map(row));
  const first = users.length ? state.offset + 1 : 0;
  const last = state.offset + users.length;
  const found = `${state.total} user${state.total === 1 ? "" : "s"}`;
  document.getElementById("users-summary").textContent = `${found}, showing ${first}–${last}`;
  document.getElementById("users-page-info").textContent = `${first}–${last} of ${state.total}`;
  document.querySelector("[data-page=previous]").disabled = state.offset === 0;
  document.querySelector("[data-page=next]").disabled = last >= state.total;
}

function row(user) {
  const toggle = h(
    "button",
    { type: "button", class: "btn btn-outline-primary btn-sm", "aria-expanded": "false", "aria-label": `Edit ${user.name}` },
    "Edit",
  );
  const tr = h(
    "tr",
    { dataset: { user: user.id.site } },
    h("th", { scope: "row" }, user.name, h("div", { class: "small text-secondary" }, user.id.site)),
    h("td", {}, user.email),
    h("td", {}, user.groupName),
    h("td", {}, roles(user)),
    h("td", { class: "small" }, formatTime(user.lastLogin)),
    h("td", { class: "small" }, formatTime(user.lastApiUse)),
    h("td", { class: "text-end" }, toggle),
  );
  toggle.addEventListener("click", () => {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("user-editor");
    if (open) {
      tr.nextElementSibling.remove();
      toggle.setAttribute("aria-expanded", "false");
    } else {
      tr.after(editor(user));
      toggle.setAttribute("aria-expanded", "true");
      tr.nextElementSibling.querySelector("input").focus();
    }
  });
  return tr;
}

function checkbox(id, label, checked) {
  return h(
    "div",
    { class: "form-check" },
    h("input", { class: "form-check-input", type: "checkbox", id, checked }),
    h("label", { class: "form-check-label", for: id }, label),
  );
}

function editor(user) {
  const may = powers(user);
  const key = user.id.site;
  const name = h("input", { class: "form-control", id: `u-${key}-name`, value: user.name, maxlength: 200 });
  const fields = { name };
  const parts = [
    h("div", { class: "col-md-4" }, h("label", { class: "form-label", for: name.id }, "Name"), name),
  ];
  if (may.group) {
    const group = h(
      "select",
      { class: "form-select", id: `u-${key}-group` },
      state.groups.map((item) =>
        h("option", { value: item.id.site, selected: item.id.site === user.groupId.site }, item.name),
      ),
    );
    fields.groupId = group;
    parts.push(h("div", { class: "col-md-4" }, h("label", { class: "form-label", for: group.id }, "Group"), group));
  }
  const flags = [
    ["enabled", "Enabled"],
    ["groupAdmin", "Group admin"],
    ["siteRead", "Site reader (reads all groups' data)"],
    ["siteAdmin", "Site admin"],
  ].filter(([flag]) => may[flag]);
  const boxes = flags.map(([flag, label]) => checkbox(`u-${key}-${flag}`, label, user[flag]));
  parts.push(h("div", { class: "col-12 d-flex flex-wrap gap-4" }, boxes));
  flags.forEach(([flag], index) => {
    fields[flag] = boxes[index].querySelector("input");
  });

  const save = h("button", { type: "submit", class: "btn btn-primary btn-sm" }, "Save");
  const actions = [save];
  if (user.lockedUntil && may.unlock) {
    actions.push(h("button", { type: "button", class: "btn btn-outline-warning btn-sm", onclick: () => unlock(user) }, "Unlock"));
  }
  if (user.secondFactor && may.resetSecondFactor) {
    actions.push(
      h("button", { type: "button", class: "btn btn-outline-danger btn-sm", onclick: () => resetSecondFactor(user) }, "Reset second factor"),
    );
  }
  parts.push(h("div", { class: "col-12 d-flex gap-2" }, actions));
  const form = h("form", { class: "row g-2", novalidate: true }, parts);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    update(user, fields);
  });
  return h("tr", { class: "user-editor" }, h("td", { colspan: 7 }, form));
}

async function update(user, fields) {
  const changes = {};
  if (fields.name.value.trim() !== user.name) changes.name = fields.name.value.trim();
  if (fields.groupId && fields.groupId.value !== user.groupId.site) changes.groupId = fields.groupId.value;
  for (const flag of ["enabled", "groupAdmin", "siteRead", "siteAdmin"]) {
    if (fields[flag] && fields[flag].checked !== user[flag]) changes[flag] = fields[flag].checked;
  }
  // A move ends group admin rights unless the same request grants them in the new group.
  if (changes.groupId && fields.groupAdmin && fields.groupAdmin.checked) changes.groupAdmin = true;
  if (!Object.keys(changes).length) {
    tell("info", `Nothing to save for ${user.name}.`);
    return;
  }
  if (changes.siteAdmin === false || changes.enabled === false) {
    const what = changes.enabled === false ? "disable the account of" : "revoke site admin from";
    if (!window.confirm(`Really ${what} ${user.name}?`)) return;
  }
  clearErrors(fields);
  try {
    await api.put(`/users/${user.id.uuid}`, changes);
    tell("success", `${user.name}: saved ${Object.keys(changes).join(", ")}.`);
    await load();
  } catch (error) {
    showErrors(error, fields);
  }
}

async function unlock(user) {
  try {
    await api.request("DELETE", `/users/${user.id.uuid}/lockout`);
    tell("success", `${user.name} is unlocked and may log in again.`);
    await load();
  } catch (error) {
    showErrors(error);
  }
}

async function resetSecondFactor(user) {
  if (!window.confirm(`Reset the second factor of ${user.name}? They enrol again through a password reset.`)) return;
  try {
    await api.request("DELETE", `/users/${user.id.uuid}/totp-secret`);
    tell("success", `The second factor of ${user.name} was reset.`);
    await load();
  } catch (error) {
    showErrors(error);
  }
}

/** Back to the first page for changed filters; the same filters again (the search's typing
 * delay ending after Enter already sent it) leave the list, and any open editor, alone. */
function restart() {
  state.offset = 0;
  if (JSON.stringify(query()) !== shownQuery) load();
}

let typing;
search.addEventListener("input", () => {
  window.clearTimeout(typing);
  typing = window.setTimeout(restart, 250);
});
document.getElementById("users-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  restart();
});
for (const select of [groupSelect, roleSelect, sortSelect]) select.addEventListener("change", restart);
document.querySelector("[data-page=previous]").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - PAGE_SIZE);
  load();
});
document.querySelector("[data-page=next]").addEventListener("click", () => {
  state.offset += PAGE_SIZE;
  load();
});

async function start() {
  if (actor.siteAdmin) {
    state.groups = await api.get("/groups");
    groupSelect.append(...state.groups.map((group) => h("option", { value: group.id.site }, group.name)));
    document.getElementById("users-group-filter").hidden = false;
  }
  const wanted = new URLSearchParams(window.location.search);
  if (wanted.get("search")) search.value = wanted.get("search");
  if (wanted.get("groupId")) groupSelect.value = wanted.get("groupId");
  await load();
}

start();
