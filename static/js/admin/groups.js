// Groups (site admins): every group with its member count; create and rename.

import { api, clearErrors, h, showErrors, tell } from "./common.js";

const tbody = document.querySelector("#groups-table tbody");
const createForm = document.getElementById("group-create");
const createName = document.getElementById("group-create-name");

async function load() {
  try {
    const groups = await api.get("/groups");
    tbody.replaceChildren(...groups.map(row));
  } catch (error) {
    showErrors(error);
  }
}

function row(group) {
  const members = h("a", { href: `/admin/users?groupId=${encodeURIComponent(group.id.site)}` }, String(group.memberCount));
  const rename = h("button", { type: "button", class: "btn btn-outline-primary btn-sm", "aria-label": `Rename ${group.name}` }, "Rename");
  const tr = h(
    "tr",
    { dataset: { group: group.id.site } },
    h("th", { scope: "row" }, group.name),
    h("td", {}, group.id.site),
    h("td", { class: "text-end" }, members),
    h("td", { class: "text-end" }, rename),
  );
  rename.addEventListener("click", () => {
    const input = h("input", { class: "form-control form-control-sm", id: `rename-${group.id.site}`, value: group.name, maxlength: 200, "aria-label": `New name of ${group.name}` });
    const form = h(
      "form",
      { class: "d-flex gap-2", novalidate: true },
      h("div", { class: "flex-grow-1" }, input),
      h("button", { type: "submit", class: "btn btn-primary btn-sm" }, "Save"),
      h("button", { type: "button", class: "btn btn-outline-secondary btn-sm", onclick: () => load() }, "Cancel"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api.put(`/groups/${group.id.uuid}`, { name: input.value });
        tell("success", `The group ${group.name} is now called ${input.value.trim()}.`);
        await load();
      } catch (error) {
        showErrors(error, { name: input });
      }
    });
    tr.children[0].replaceChildren(form);
    input.focus();
  });
  return tr;
}

createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors({ name: createName });
  try {
    const group = await api.post("/groups", { name: createName.value });
    tell("success", `The group ${group.name} (${group.id.site}) was created.`);
    createName.value = "";
    await load();
  } catch (error) {
    showErrors(error, { name: createName });
  }
});

load();
