// The records table, shared by the View page and the submission page: one row per
// submitted metadataset as GET /metadatasets?format=json answers it.

import { formatBytes, h } from "../submit/dom.js";

/** "2026-11-30 10:15:02 +01:00": a moment in the browser's time zone, with its offset. */
export function localTime(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const pad = (number) => String(Math.abs(number)).padStart(2, "0");
  const offset = -moment.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  return (
    `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ` +
    `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())} ` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** The fixed columns: name shown, sort key of the API. */
export const FIXED_COLUMNS = [
  { title: "Submission", sort: "submission" },
  { title: "Submitted at", sort: "submittedAt" },
  { title: "User", sort: "user" },
  { title: "Group", sort: "group" },
  { title: "Record", sort: "id" },
];

/** The link that downloads a file: the API answers a short-lived presigned URL (307). */
export function downloadUrl(api, fileId) {
  return `${api}/rpc/get-file-url/${encodeURIComponent(fileId)}?redirect=true&expires=10`;
}

function named(reference, link) {
  return [
    link ? h("a", { href: link }, reference.name) : reference.name,
    h("div", { class: "small text-secondary" }, reference.id.site),
  ];
}

function valueCell(api, column, item) {
  const value = item.record[column.name];
  const dataset = { column: column.name };
  if (column.isFile) {
    const file = item.files[column.name];
    if (!file) return h("td", { dataset }, value ?? "");
    return h(
      "td",
      { class: "file-cell", dataset },
      h("div", {}, file.name),
      h(
        "div",
        { class: "small text-secondary" },
        `${formatBytes(file.size)} · `,
        h("a", { href: downloadUrl(api, file.id.uuid), class: "file-download" }, "download"),
      ),
    );
  }
  const executions = item.serviceExecutions;
  if (column.serviceId && executions && executions[column.name] === null) {
    return h("td", { class: "text-secondary fst-italic", dataset }, "pending");
  }
  return h("td", { dataset }, value ?? "");
}

/** One table row; ``links`` makes the URLs of a user's and a group's filtered views. */
export function recordRow(api, columns, item, links = {}) {
  const submission = item.submission;
  return h(
    "tr",
    { dataset: { record: item.id.site } },
    h(
      "td",
      {},
      h("a", { href: `/submissions/${submission.id.site}` }, submission.label || submission.id.site),
      h("div", { class: "small text-secondary" }, submission.id.site),
    ),
    h("td", { class: "text-nowrap" }, localTime(submission.submittedAt)),
    h("td", {}, named(item.user, links.user && links.user(item.user.id.site))),
    h("td", {}, named(item.group, links.group && links.group(item.group.id.site))),
    h("td", { class: "text-nowrap" }, item.id.site),
    columns.map((column) => valueCell(api, column, item)),
  );
}

/** The columns a table shows: every definition, service ones only for their readers. */
export function visibleColumns(definitions, whoami) {
  return definitions.filter((definition) => !definition.serviceId || whoami.siteRead);
}
