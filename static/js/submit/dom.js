// Small DOM helpers: elements are built with text nodes only (never innerHTML),
// so values from sheets and file names cannot inject markup.

/** `h("td", {class: "x", dataset: {id: 1}}, "text", child)` */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1234567 -> "1.2 MB" (decimal units, as storage is sold). */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** 75 -> "1 min 15 s" */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${total % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function plural(count, one, many = `${one}s`) {
  return `${count.toLocaleString("en")} ${count === 1 ? one : many}`;
}

/** Tell screen readers (the page's polite live region). */
export function announce(message) {
  const live = document.getElementById("submit-live");
  live.textContent = "";
  // A fresh text node after clearing makes readers announce repeated messages too.
  window.setTimeout(() => {
    live.textContent = message;
  }, 50);
}

/** A dismissible Bootstrap alert at the top of the page; returns it. */
export function showAlert(kind, ...content) {
  const alert = h(
    "div",
    { class: `alert alert-${kind} alert-dismissible`, role: kind === "danger" ? "alert" : "status" },
    ...content,
    h("button", { type: "button", class: "btn-close", "data-bs-dismiss": "alert", "aria-label": "Close" }),
  );
  document.getElementById("submit-alerts").append(alert);
  return alert;
}

/** Set a Bootstrap progress bar (the `.progress` wrapper) to `fraction` of 1. */
export function setProgress(wrapper, fraction) {
  const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  wrapper.setAttribute("aria-valuenow", String(percent));
  // CSSOM, not a style attribute: the Content-Security-Policy allows it.
  wrapper.firstElementChild.style.width = `${percent}%`;
}
