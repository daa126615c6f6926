// Site settings (site admins): an editor fitting each setting's type, the
// placeholders of each mail text, a preview of the mail with sample values, and
// the HTML settings as the pages will show them (sanitized by the server).

import { api, h, settingKinds, showErrors, tell } from "./common.js";

const list = document.getElementById("settings-list");
const isMail = (key) => settingKinds.mail.includes(key);
const isHtml = (key) => settingKinds.html.includes(key);

function editorFor(setting, id) {
  const common = { id, class: "form-control", name: setting.key };
  if (setting.valueType === "bool") {
    return h("input", { id, class: "form-check-input", type: "checkbox", role: "switch", checked: setting.value === "true" });
  }
  if (setting.valueType === "int") return h("input", { ...common, type: "number", step: 1, min: 0, value: setting.value });
  if (setting.valueType === "float") return h("input", { ...common, type: "number", step: "any", value: setting.value });
  if (setting.valueType === "date") return h("input", { ...common, type: "date", value: setting.value });
  if (setting.valueType === "time") return h("input", { ...common, type: "time", step: 1, value: setting.value });
  if (setting.key.startsWith("template_") || isHtml(setting.key)) {
    const area = h("textarea", { ...common, rows: setting.key.startsWith("template_") ? 8 : 3, class: "form-control font-monospace" });
    area.value = setting.value;
    return area;
  }
  return h("input", { ...common, type: "text", value: setting.value });
}

function valueOf(setting, editor) {
  return setting.valueType === "bool" ? String(editor.checked) : editor.value;
}

function card(setting) {
  const id = `setting-${setting.key}`;
  const editor = editorFor(setting, id);
  const placeholders = h("p", { class: "small text-secondary mb-1", id: `${id}-placeholders` });
  const preview = h("div", { class: "setting-preview small", id: `${id}-preview`, "aria-live": "polite" });
  const previewable = isMail(setting.key) || isHtml(setting.key);
  const label = h("label", { class: setting.valueType === "bool" ? "form-check-label" : "form-label fw-semibold", for: id }, setting.key);
  const field = setting.valueType === "bool" ? h("div", { class: "form-check form-switch" }, editor, label) : h("div", {}, label, editor);
  const save = h("button", { type: "submit", class: "btn btn-primary btn-sm" }, "Save");
  const buttons = [save];
  if (previewable) {
    buttons.push(h("button", { type: "button", class: "btn btn-outline-secondary btn-sm", onclick: () => showPreview(setting, editor, placeholders, preview) }, "Preview"));
  }
  const form = h(
    "form",
    { class: "card mb-2 setting", dataset: { key: setting.key }, novalidate: true },
    h("div", { class: "card-body" }, field, previewable ? placeholders : null, h("div", { class: "d-flex gap-2 mt-2" }, buttons), preview),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.put(`/appsettings/${setting.id.uuid}`, { value: valueOf(setting, editor) });
      tell("success", `${setting.key} was saved.`);
    } catch (error) {
      showErrors(error, { value: editor });
    }
  });
  if (previewable) showPreview(setting, editor, placeholders, preview, { quiet: true });
  return form;
}

async function showPreview(setting, editor, placeholders, target, { quiet = false } = {}) {
  try {
    const answer = await api.post("/rpc/appsetting-preview", { key: setting.key, value: valueOf(setting, editor) });
    if (isMail(setting.key)) {
      placeholders.replaceChildren(
        "Placeholders: ",
        ...answer.placeholders.flatMap((name, index) => [index ? ", " : "", h("code", {}, `{${name}}`)]),
        ". Write {{ and }} for a literal brace.",
      );
    } else {
      placeholders.textContent = "Shown as HTML: only simple formatting and links are kept.";
    }
    if (quiet) return;
    if (answer.text !== null) {
      target.replaceChildren(h("p", { class: "mb-1 mt-2 fw-semibold" }, "With sample values:"), h("pre", { class: "border rounded p-2 bg-body-tertiary mail-preview" }, answer.text));
    } else if (answer.html !== null) {
      // Sanitized by the server with the same rules as the pages; shown in a sandbox all the same.
      const frame = h("iframe", { sandbox: "", title: `Preview of ${setting.key}`, class: "w-100 border rounded mt-2 html-preview" });
      frame.srcdoc = answer.html;
      target.replaceChildren(frame);
    }
  } catch (error) {
    showErrors(error, { value: editor });
  }
}

async function load() {
  try {
    const settings = await api.get("/appsettings");
    list.replaceChildren(...settings.map(card));
  } catch (error) {
    showErrors(error);
  }
}

load();
