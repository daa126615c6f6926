// What every script-driven admin section shares: the API client, the acting
// admin, and where messages go (a visible alert and the screen reader's live region).

import { Api, ApiError } from "../submit/api.js";
import { h } from "../submit/dom.js";

const root = document.getElementById("admin-app");

export const api = new Api(root.dataset.api, root.dataset.csrfToken);
/** The acting admin: {id, siteAdmin, groupAdmin, groupId, groupName}. */
export const actor = JSON.parse(root.dataset.actor);
/** Which settings are mail texts ("mail") and which HTML ("html"). */
export const settingKinds = JSON.parse(root.dataset.settingKinds);

export { ApiError, h };

function announce(message) {
  const live = document.getElementById("admin-live");
  live.textContent = "";
  window.setTimeout(() => {
    live.textContent = message;
  }, 50);
}

/** Say what was done (or what failed) at the top of the section, and to screen readers. */
export function tell(kind, message) {
  const alerts = document.getElementById("admin-alerts");
  alerts.replaceChildren(
    h(
      "div",
      { class: `alert alert-${kind} alert-dismissible`, role: kind === "danger" ? "alert" : "status" },
      message,
      h("button", { type: "button", class: "btn-close", "data-bs-dismiss": "alert", "aria-label": "Close" }),
    ),
  );
  announce(message);
}

/** Show an API error: messages naming a field go next to that field in `fields`, the rest on top. */
export function showErrors(error, fields = {}) {
  clearErrors(fields);
  const items = error instanceof ApiError ? error.items : [{ message: String(error) }];
  const general = [];
  for (const item of items) {
    // Body fields may come as dotted paths (definition.regExp): the last part names the input.
    const input = item.field && (fields[item.field] || fields[item.field.split(".").pop()]);
    if (input) {
      input.classList.add("is-invalid");
      input.setAttribute("aria-invalid", "true");
      const feedback = h("div", { class: "invalid-feedback", id: `${input.id}-error` }, item.message);
      input.setAttribute("aria-describedby", feedback.id);
      input.after(feedback);
    } else {
      general.push(item.field ? `${item.field}: ${item.message}` : item.message);
    }
  }
  if (general.length) tell("danger", general.join(" "));
  else announce(items.map((item) => item.message).join(" "));
}

export function clearErrors(fields = {}) {
  for (const input of Object.values(fields)) {
    input.classList.remove("is-invalid");
    input.removeAttribute("aria-invalid");
    const next = input.nextElementSibling;
    if (next && next.classList.contains("invalid-feedback") && next.id === `${input.id}-error`) next.remove();
  }
}

/** "2026-11-30 09:05" in the browser's time zone, or "never". */
export function formatTime(iso) {
  if (!iso) return "never";
  const moment = new Date(iso);
  const pad = (number) => String(number).padStart(2, "0");
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
}

/** Every page of a paged list (limit/offset with X-Total-Count), for the small lists admins choose from. */
export async function allUsers(query = {}) {
  const found = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api.get("/users", { ...query, limit: 1000, offset });
    found.push(...page);
    if (page.length < 1000) return found;
  }
}
