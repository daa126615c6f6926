// Sample-sheet columns (site admins): list in sheet order, create, edit every
// attribute, reorder, delete unused ones. While typing, the example and test values
// are checked against the regular expression (whole value, as the server checks)
// and read with the date/time format; before saving, the page says how many staged
// records the change would make invalid.

import { api, h, showErrors, tell } from "./common.js";
import { formatSample, readDate } from "./datetime.js";

const state = { definitions: [], services: [], editing: null };
const tbody = document.querySelector("#columns-table tbody");
const form = document.getElementById("column-form");
const impactBox = document.getElementById("column-impact");
const input = (id) => document.getElementById(id);
const FIELDS = {
  name: input("col-name"),
  order: input("col-order"),
  serviceId: input("col-service"),
  isMandatory: input("col-mandatory"),
  isFile: input("col-file"),
  isSubmissionUnique: input("col-subunique"),
  isSiteUnique: input("col-siteunique"),
  regExp: input("col-regexp"),
  regexDescription: input("col-regexdesc"),
  dateTimeFmt: input("col-datefmt"),
  example: input("col-example"),
  longDescription: input("col-longdesc"),
};
const FLAGS = ["isMandatory", "isFile", "isSubmissionUnique", "isSiteUnique"];

function sorted(definitions) {
  return [...definitions].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

async function load() {
  try {
    const [definitions, services] = await Promise.all([api.get("/metadata"), api.get("/services")]);
    state.definitions = sorted(definitions);
    state.services = services;
    FIELDS.serviceId.replaceChildren(
      h("option", { value: "" }, "Submitters"),
      ...services.map((service) => h("option", { value: service.id.uuid }, `Service ${service.name}`)),
    );
    render();
  } catch (error) {
    showErrors(error);
  }
}

function ruleText(definition) {
  const parts = [];
  if (definition.regExp) parts.push(h("code", { class: "text-break" }, definition.regExp));
  if (definition.dateTimeFmt) parts.push(h("code", {}, definition.dateTimeFmt));
  return parts.length ? parts : h("span", { class: "text-secondary" }, "free text");
}

function flagText(definition) {
  const service = state.services.find((item) => definition.serviceId && item.id.uuid === definition.serviceId.uuid);
  return [
    definition.isMandatory && "mandatory",
    definition.isFile && "file",
    definition.isSiteUnique ? "unique on site" : definition.isSubmissionUnique && "unique in submission",
    service && `filled by ${service.name}`,
  ]
    .filter(Boolean)
    .map((text) => h("span", { class: "badge text-bg-light border me-1" }, text));
}

function render() {
  const rows = state.definitions.map((definition, index) => {
    const button = (label, text, action, disabled = false) =>
      h("button", { type: "button", class: "btn btn-outline-secondary btn-sm", "aria-label": `${label} ${definition.name}`, onclick: action, disabled }, text);
    return h(
      "tr",
      { dataset: { column: definition.name } },
      h("td", {}, String(definition.order)),
      h("th", { scope: "row" }, h("code", {}, definition.name)),
      h("td", {}, ruleText(definition)),
      h("td", {}, flagText(definition)),
      h(
        "td",
        { class: "text-end text-nowrap" },
        button("Move up", "↑", () => move(index, -1), index === 0),
        " ",
        button("Move down", "↓", () => move(index, 1), index === state.definitions.length - 1),
        " ",
        button("Edit", "Edit", () => edit(definition)),
        " ",
        h("button", { type: "button", class: "btn btn-outline-danger btn-sm", "aria-label": `Delete ${definition.name}`, onclick: () => remove(definition) }, "Delete"),
      ),
    );
  });
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(h("tr", {}, h("td", { colspan: 5, class: "text-secondary" }, "No columns are defined yet.")));
}

/** A definition as PUT /metadata/{id} wants it, with some attributes replaced. */
function body(definition, changes = {}) {
  const { id, serviceId, ...rest } = definition;
  void id;
  const texts = {};
  for (const key of ["regexDescription", "longDescription", "example", "regExp", "dateTimeFmt"]) texts[key] = rest[key] || "";
  return { ...rest, ...texts, serviceId: serviceId ? serviceId.uuid : "", ...changes };
}

async function move(index, step) {
  const one = state.definitions[index];
  const other = state.definitions[index + step];
  // Distinct orders first, so that swapping them moves the row even where orders were equal.
  let [first, second] = [one.order, other.order];
  if (first === second) [first, second] = step < 0 ? [first, first + 1] : [first + 1, first];
  try {
    await api.put(`/metadata/${one.id.uuid}`, body(one, { order: second }));
    await api.put(`/metadata/${other.id.uuid}`, body(other, { order: first }));
    tell("success", `${one.name} moved ${step < 0 ? "up" : "down"}.`);
    await load();
    tbody.querySelector(`tr[data-column="${CSS.escape(one.name)}"] button[aria-label^="Move ${step < 0 ? "up" : "down"}"]`)?.focus();
  } catch (error) {
    showErrors(error);
  }
}

async function remove(definition) {
  if (!window.confirm(`Delete the column ${definition.name}? This cannot be undone.`)) return;
  try {
    await api.request("DELETE", `/metadata/${definition.id.uuid}`);
    tell("success", `The column ${definition.name} was deleted.`);
    await load();
  } catch (error) {
    showErrors(error);
  }
}

function edit(definition) {
  state.editing = definition;
  form.hidden = false;
  impactBox.hidden = true;
  input("column-form-title").textContent = definition ? `Edit column ${definition.name}` : "New column";
  const values = definition ? body(definition) : { order: nextOrder(), serviceId: "" };
  for (const [key, field] of Object.entries(FIELDS)) {
    if (FLAGS.includes(key)) field.checked = Boolean(values[key]);
    else field.value = values[key] ?? "";
    field.classList.remove("is-invalid");
  }
  form.querySelectorAll(".invalid-feedback").forEach((node) => node.remove());
  input("col-test").value = "";
  check();
  FIELDS.name.focus();
}

function nextOrder() {
  const orders = state.definitions.map((definition) => definition.order);
  return orders.length ? Math.max(...orders) + 10 : 10;
}

function formValues() {
  const values = {};
  for (const [key, field] of Object.entries(FIELDS)) {
    values[key] = FLAGS.includes(key) ? field.checked : field.value;
  }
  values.order = Number.parseInt(values.order, 10);
  return values;
}

// --- the live checker ----------------------------------------------------------------

/** The regular expression as the server applies it (whole value), or an error text. */
function compiled(pattern) {
  try {
    return new RegExp(`^(?:${pattern})$`, "u");
  } catch (error) {
    return String(error.message || error);
  }
}

function check() {
  const pattern = FIELDS.regExp.value;
  const format = FIELDS.dateTimeFmt.value;
  const regex = pattern ? compiled(pattern) : null;
  const status = input("col-regexp-status");
  if (typeof regex === "string") {
    status.textContent = `Not a valid regular expression here: ${regex}`;
    status.className = "form-text text-danger";
  } else {
    status.textContent = pattern ? "Values must match the whole expression." : "Any text is allowed.";
    status.className = "form-text";
  }
  const dateStatus = input("col-datefmt-status");
  if (format) {
    const sample = formatSample(format);
    dateStatus.textContent = sample === null ? "This format cannot be previewed here; the server checks it on saving." : `31 January 2024, 13:45 is written ${sample}`;
  } else {
    dateStatus.textContent = "";
  }
  const values = [["Example", FIELDS.example.value], ...input("col-test").value.split("\n").filter((line) => line !== "").map((line) => ["Value", line])];
  const results = values
    .filter(([label, value]) => label !== "Example" || value !== "")
    .map(([label, value]) => {
      const problems = [];
      if (regex instanceof RegExp && !regex.test(value)) problems.push("does not match the regular expression");
      let read = "";
      if (format) {
        const parsed = readDate(value, format);
        if (parsed === "") problems.push(`cannot be read with ${format}`);
        else if (parsed) read = ` (read as ${parsed})`;
      }
      const ok = !problems.length;
      return h(
        "li",
        { class: ok ? "text-success" : "text-danger", dataset: { value, ok: String(ok) } },
        ok ? "✓ " : "✗ ",
        `${label} `,
        h("code", {}, value),
        ok ? ` passes${read}` : ` ${problems.join(" and ")}`,
      );
    });
  input("col-test-results").replaceChildren(...results);
}

for (const id of ["col-regexp", "col-datefmt", "col-example", "col-test"]) input(id).addEventListener("input", check);

// --- "choose from a list" --------------------------------------------------------------

/** A value as a literal inside the regular expression (the server reads such lists back). */
function literal(value) {
  return value.replace(/[\\.^$|?*+()[\]{}]/g, "\\$&");
}

input("vocabulary-apply").addEventListener("click", () => {
  const values = [...new Set(input("vocabulary-values").value.split("\n").map((line) => line.trim()).filter(Boolean))];
  if (!values.length) {
    tell("warning", "Enter at least one value, one per line.");
    return;
  }
  FIELDS.regExp.value = `^(${values.map(literal).join("|")})$`;
  if (!FIELDS.regexDescription.value) FIELDS.regexDescription.value = `One of: ${values.join(", ")}`;
  check();
  tell("info", `The regular expression now allows exactly ${values.length} values.`);
  FIELDS.regExp.focus();
});

// --- saving ----------------------------------------------------------------------------

let confirmedImpact = null;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = formValues();
  const editing = state.editing;
  try {
    const key = JSON.stringify(values);
    if (confirmedImpact !== key) {
      const impact = await api.post("/rpc/metadatum-impact", { id: editing ? editing.id.uuid : null, definition: values });
      if (impact.stagedRecords > 0) {
        impactBox.textContent = `This change makes ${impact.stagedRecords} staged record${impact.stagedRecords === 1 ? "" : "s"} of ${impact.users} user${impact.users === 1 ? "" : "s"} invalid: they cannot be submitted until fixed. Press Save again to save anyway.`;
        impactBox.hidden = false;
        confirmedImpact = key;
        impactBox.focus?.();
        return;
      }
    }
    const saved = editing ? await api.put(`/metadata/${editing.id.uuid}`, values) : await api.post("/metadata", values);
    confirmedImpact = null;
    form.hidden = true;
    tell("success", `The column ${saved.name} was ${editing ? "saved" : "created"}.`);
    await load();
  } catch (error) {
    confirmedImpact = null;
    showErrors(error, FIELDS);
  }
});

input("column-cancel").addEventListener("click", () => {
  form.hidden = true;
  confirmedImpact = null;
});
input("column-new").addEventListener("click", () => edit(null));

load();
