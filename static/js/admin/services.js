// Services (site admins): create, rename, assign users, and see the columns each fills.

import { allUsers, api, clearErrors, h, showErrors, tell } from "./common.js";

const list = document.getElementById("services-list");
const createName = document.getElementById("service-create-name");
const state = { users: [], definitions: [] };

function columnsOf(service) {
  return state.definitions.filter((definition) => definition.serviceId && definition.serviceId.uuid === service.id.uuid);
}

function card(service) {
  const id = `service-${service.id.site}`;
  const name = h("input", { class: "form-control", id: `${id}-name`, value: service.name, maxlength: 200 });
  const assigned = new Set(service.userIds.map((user) => user.uuid));
  const select = h(
    "select",
    { class: "form-select", id: `${id}-users`, multiple: true, size: Math.min(8, Math.max(3, state.users.length)) },
    state.users.map((user) => h("option", { value: user.id.uuid, selected: assigned.has(user.id.uuid) }, `${user.name} <${user.email}> (${user.groupName})`)),
  );
  const columns = columnsOf(service);
  const form = h(
    "form",
    { class: "card mb-3 service", dataset: { service: service.name }, novalidate: true },
    h(
      "div",
      { class: "card-body row g-2" },
      h("h3", { class: "h6 col-12 mb-0" }, service.name, " ", h("span", { class: "text-secondary small" }, service.id.site)),
      h("div", { class: "col-md-4" }, h("label", { class: "form-label", for: name.id }, "Name"), name),
      h(
        "div",
        { class: "col-md-8" },
        h("label", { class: "form-label", for: select.id }, "Assigned users (hold Ctrl or ⌘ to choose several)"),
        select,
      ),
      h(
        "p",
        { class: "col-12 small mb-0 service-columns" },
        "Fills: ",
        columns.length ? columns.flatMap((column, index) => [index ? ", " : "", h("code", {}, column.name)]) : h("span", { class: "text-secondary" }, "no column yet (choose this service as a column's filler under Sample-sheet columns)"),
      ),
      h("div", { class: "col-12" }, h("button", { type: "submit", class: "btn btn-primary btn-sm" }, "Save")),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors({ name, userIds: select });
    const userIds = [...select.selectedOptions].map((option) => option.value);
    try {
      const saved = await api.put(`/services/${service.id.uuid}`, { name: name.value, userIds });
      tell("success", `The service ${saved.name} was saved with ${saved.userIds.length} assigned user${saved.userIds.length === 1 ? "" : "s"}.`);
      await load();
    } catch (error) {
      showErrors(error, { name, userIds: select });
    }
  });
  return form;
}

async function load() {
  try {
    const [services, definitions, users] = await Promise.all([api.get("/services"), api.get("/metadata"), allUsers()]);
    state.definitions = definitions;
    state.users = users;
    list.replaceChildren(...services.map(card));
    if (!services.length) list.append(h("p", { class: "text-secondary" }, "No services yet."));
  } catch (error) {
    showErrors(error);
  }
}

document.getElementById("service-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors({ name: createName });
  try {
    const service = await api.post("/services", { name: createName.value });
    tell("success", `The service ${service.name} (${service.id.site}) was created.`);
    createName.value = "";
    await load();
  } catch (error) {
    showErrors(error, { name: createName });
  }
});

load();
