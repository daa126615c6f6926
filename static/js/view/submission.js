// The submission page: a submission's records (the View page's table) and its files,
// with the manifest and the commands that download and check them. Public API only.

import { Api, ApiError } from "../submit/api.js";
import { formatBytes, h } from "../submit/dom.js";
import { apiQuery } from "./query.js";
import { FIXED_COLUMNS, downloadUrl, localTime, recordRow, visibleColumns } from "./records.js";

const root = document.getElementById("submission-app");
const API = root.dataset.api;
const SUBMISSION = root.dataset.submission;
const api = new Api(API, "");
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 100;

const state = { q: "", filters: [], sort: "id", submissionId: SUBMISSION, size: PAGE_SIZE, page: 1 };
let columns = [];

function showError(error) {
  const message = error instanceof ApiError ? error.message : String(error);
  $("submission-alerts").replaceChildren(h("div", { class: "alert alert-danger", role: "alert" }, message));
}

async function loadRecords() {
  const query = apiQuery(state, { format: "json", paged: true });
  const { items: body, total } = await api.getPage("/metadatasets", query);
  $("records").tBodies[0].replaceChildren(...body.map((item) => recordRow(API, columns, item)));
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  $("page-info").textContent = `Page ${state.page} of ${pages}`;
  $("previous-page").disabled = state.page <= 1;
  $("next-page").disabled = state.page >= pages;
  return body;
}

function renderSummary(details, first, manifest) {
  $("summary-date").textContent = localTime(details.date);
  if (first) {
    $("summary-user").textContent = `${first.user.name} (${first.user.id.site})`;
    $("summary-group").textContent = `${first.group.name} (${first.group.id.site})`;
  }
  $("summary-records").textContent = String(details.metadatasetIds.length);
  const bytes = manifest.files.reduce((sum, file) => sum + (file.size || 0), 0);
  $("summary-files").textContent = `${manifest.files.length} (${formatBytes(bytes) || "0 B"})`;
}

function renderFiles(manifest) {
  $("files").tBodies[0].replaceChildren(
    ...manifest.files.map((file) =>
      h(
        "tr",
        { dataset: { file: file.id.site } },
        h("td", {}, file.name),
        h("td", {}, file.id.site),
        h("td", { class: "text-nowrap" }, formatBytes(file.size)),
        h("td", { class: "font-monospace small" }, file.md5),
        h("td", {}, h("a", { href: downloadUrl(API, file.id.uuid), class: "file-download" }, "download")),
      ),
    ),
  );
  const base = `${API}/submissions/${encodeURIComponent(SUBMISSION)}/manifest`;
  $("manifest-tsv").href = `${base}?format=tsv`;
  $("manifest-md5").href = `${base}?format=md5`;
  const tsv = `${SUBMISSION}-manifest.tsv`;
  $("manifest-expiry").textContent =
    `The manifest's download links are valid for ${manifest.expiresMinutes} minutes from when you download it.`;
  $("command-wget").textContent = `tail -n +2 ${tsv} | cut -f5 | wget --content-disposition -i -`;
  $("command-curl").textContent =
    `tail -n +2 ${tsv} | cut -f1,5 | while IFS=$'\\t' read -r name url; do curl -fsS -o "$name" "$url"; done`;
  $("command-md5").textContent = `md5sum -c ${SUBMISSION}.md5`;
}

function renderHead() {
  const titles = [...FIXED_COLUMNS.map((column) => column.title), ...columns.map((column) => column.name)];
  $("records").tHead.replaceChildren(h("tr", {}, titles.map((title) => h("th", { scope: "col" }, title))));
  for (const format of ["csv", "tsv", "xlsx", "json"]) {
    $(`export-${format}`).href = `${API}/metadatasets?${apiQuery(state, { format, paged: false })}`;
  }
}

async function showPage(page) {
  state.page = page;
  delete root.dataset.loaded;
  try {
    await loadRecords();
  } catch (error) {
    showError(error);
  }
  root.dataset.loaded = "true";
}

async function start() {
  try {
    const id = encodeURIComponent(SUBMISSION);
    const [whoami, definitions, details, manifest] = await Promise.all([
      api.get("/rpc/whoami"),
      api.get("/metadata"),
      api.get(`/submissions/${id}`),
      api.get(`/submissions/${id}/manifest`),
    ]);
    columns = visibleColumns(definitions, whoami);
    renderHead();
    const records = await loadRecords();
    renderSummary(details, records[0], manifest);
    renderFiles(manifest);
  } catch (error) {
    showError(error);
  }
  $("previous-page").addEventListener("click", () => showPage(state.page - 1));
  $("next-page").addEventListener("click", () => showPage(state.page + 1));
  root.dataset.loaded = "true";
}

start();
