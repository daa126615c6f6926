// The submit page: sample sheets and data files in, one submission out.
// Everything goes through the public API (/api/v1); this module wires the
// parts together and keeps the selection checked with /presubvalidation.

import { Api, ApiError } from "./api.js";
import { renderColumns, submitterColumns } from "./columns.js";
import { announce, h, plural, showAlert } from "./dom.js";
import { FilesTable } from "./files.js";
import { RecordsTable } from "./records.js";
import { Sheets } from "./sheets.js";
import { Uploads } from "./uploads.js";

const CHECK_DELAY_MS = 300;

const root = document.getElementById("submit-app");
const api = new Api(root.dataset.api, root.dataset.csrfToken);
const userPath = `/users/${encodeURIComponent(root.dataset.userId)}`;

const labelInput = document.getElementById("submission-label");
const commitButton = document.getElementById("commit-button");
const commitReason = document.getElementById("commit-reason");
const commitProblems = document.getElementById("commit-problems");

let columns = [];
let fileColumns = [];
let loaded = false;
let fileIndex = new Map(); // file name -> its entries in the uploads store
let included = new Set(); // keys of the entries the selection includes
let fileProblems = new Map(); // file uuid -> messages of the last check
// idle | empty | checking | valid | invalid | error | committing
let check = { state: "idle" };
let checkTimer = null;
let checkRun = 0;
let lastSignature = null;
let renderQueued = null;

const records = new RecordsTable({
  onSelectionChange: () => scheduleCheck(),
  onDelete: deleteRecords,
  fileStatus,
});
const uploads = new Uploads(api, filesChanged, () => loadFiles());
const filesTable = new FilesTable(uploads, {
  onDelete: deleteFile,
  included: (entry) => included.has(entry.key),
  problems: (entry) => (entry.id && fileProblems.get(entry.id.uuid)) || [],
});
const sheets = new Sheets(api, { columns: () => columns, onStaged: () => loadRecords() });

// -- files and the records that name them --------------------------------------

/** How the files named `name` stand, for the badge in a file column's cell. */
function fileStatus(name) {
  const entries = fileIndex.get(name) || [];
  if (entries.some((entry) => entry.state === "uploaded")) return "received";
  if (entries.some((entry) => uploads.active(entry))) return "uploading";
  if (entries.some((entry) => entry.state === "failed")) return "failed";
  return "missing";
}

/** The uploaded files that selected records name: they go into the submission with them. */
function includedEntries() {
  const names = new Set();
  for (const record of records.selectedRecords()) {
    for (const column of fileColumns) {
      const value = record.record[column];
      if (value) names.add(value);
    }
  }
  return uploads.entries.filter((entry) => entry.state === "uploaded" && entry.id && names.has(entry.name));
}

function refreshFileLinks() {
  fileIndex = new Map();
  for (const entry of uploads.entries) {
    if (!fileIndex.has(entry.name)) fileIndex.set(entry.name, []);
    fileIndex.get(entry.name).push(entry);
  }
  included = new Set(includedEntries().map((entry) => entry.key));
}

/** The uploads store changed; redraw at most once per frame. */
function filesChanged(structural) {
  if (renderQueued === "structural") return;
  const first = renderQueued === null;
  renderQueued = structural ? "structural" : renderQueued || "progress";
  if (!first) return;
  window.requestAnimationFrame(() => {
    const kind = renderQueued;
    renderQueued = null;
    if (kind === "structural") {
      refreshFileLinks();
      filesTable.render();
      records.render();
      scheduleCheck(false);
      updateCommit();
    } else {
      filesTable.update();
    }
  });
}

// -- checking the selection -----------------------------------------------------

function payload() {
  return {
    metadatasetIds: records.selectedIds(),
    fileIds: includedEntries().map((entry) => entry.id.uuid),
  };
}

/** Check the selection soon; unless forced, only if the selection has changed. */
function scheduleCheck(force = true) {
  if (!loaded || check.state === "committing") return;
  const current = payload();
  const signature = `${current.metadatasetIds.join()}|${current.fileIds.join()}`;
  if (!force && signature === lastSignature) return;
  lastSignature = signature;
  included = new Set(includedEntries().map((entry) => entry.key));
  window.clearTimeout(checkTimer);
  checkRun += 1;
  if (!current.metadatasetIds.length) {
    setCheck({ state: "empty" }, new Map(), new Map());
    return;
  }
  check = { state: "checking" };
  updateCommit();
  const run = checkRun;
  checkTimer = window.setTimeout(() => runCheck(run), CHECK_DELAY_MS);
}

async function runCheck(run) {
  const body = { ...payload(), label: null };
  try {
    await api.post("/presubvalidation", body);
    if (run === checkRun) setCheck({ state: "valid", ...counts(body) }, new Map(), new Map());
  } catch (error) {
    if (run !== checkRun) return;
    if (error instanceof ApiError && error.status === 400) {
      const sorted = sortProblems(error.items);
      setCheck({ state: "invalid", general: sorted.general }, sorted.records, sorted.files);
    } else {
      setCheck({ state: "error", message: error.message }, new Map(), new Map());
    }
  }
}

function counts(body) {
  return { records: body.metadatasetIds.length, files: body.fileIds.length };
}

/** Each problem to the record cell, record row, file or page it is about. */
function sortProblems(items) {
  const recordProblems = new Map();
  const files = new Map();
  const general = [];
  const fileIds = new Set(uploads.entries.filter((entry) => entry.id).map((entry) => entry.id.uuid));
  const columnNames = new Set(columns.map((column) => column.name));
  for (const item of items) {
    const id = item.entity?.uuid;
    if (id && records.byId.has(id)) {
      if (!recordProblems.has(id)) recordProblems.set(id, { cells: new Map(), row: [] });
      const problems = recordProblems.get(id);
      if (columnNames.has(item.field)) {
        if (!problems.cells.has(item.field)) problems.cells.set(item.field, []);
        problems.cells.get(item.field).push(item.message);
      } else {
        problems.row.push(item.field ? `${item.field}: ${item.message}` : item.message);
      }
    } else if (id && fileIds.has(id)) {
      if (!files.has(id)) files.set(id, []);
      files.get(id).push(item.message);
    } else {
      general.push(item.field ? `${item.field}: ${item.message}` : item.message);
    }
  }
  return { records: recordProblems, files, general };
}

function setCheck(result, recordProblems, files) {
  check = result;
  fileProblems = files;
  records.setProblems(recordProblems, result.state === "valid" || result.state === "invalid");
  filesTable.render();
  updateCommit();
}

function problemSummary() {
  const parts = [];
  const waiting = uploads.entries.filter((entry) => uploads.active(entry)).length;
  if (waiting) parts.push(`${plural(waiting, "file")} still uploading`);
  let cells = 0;
  for (const id of records.problems.keys()) cells += records.problemCount(id);
  if (cells) {
    parts.push(`${plural(cells, "problem")} in ${plural(records.problems.size, "selected record")}`);
  }
  const fileCount = [...fileProblems.values()].reduce((sum, messages) => sum + messages.length, 0);
  if (fileCount) parts.push(`${plural(fileCount, "problem")} with files`);
  if (check.general?.length) parts.push(plural(check.general.length, "other problem"));
  return parts.length ? `${parts.join("; ")}.` : "The selection cannot be submitted.";
}

function updateCommit() {
  const ready = check.state === "valid";
  labelInput.disabled = !ready;
  commitButton.disabled = !ready;
  commitProblems.hidden = true;
  commitProblems.replaceChildren();
  const reasons = {
    idle: "Loading…",
    empty: records.records.length ? "Select at least one record." : "Add a sample sheet to begin.",
    checking: "Checking the selection…",
    committing: "Committing…",
  };
  let text = reasons[check.state];
  if (ready) {
    text = `Ready: ${plural(check.records, "record")} and ${plural(check.files, "file")} will be submitted.`;
  } else if (check.state === "invalid") {
    text = `Not ready: ${problemSummary()} They are marked in the tables.`;
    if (check.general.length) {
      commitProblems.append(...check.general.map((message) => h("li", {}, message)));
      commitProblems.hidden = false;
    }
  } else if (check.state === "error") {
    text = `The selection could not be checked: ${check.message}`;
    commitProblems.append(
      h(
        "li",
        { class: "list-unstyled" },
        h(
          "button",
          { type: "button", class: "btn btn-outline-secondary btn-sm", onclick: () => scheduleCheck() },
          "Check again",
        ),
      ),
    );
    commitProblems.hidden = false;
  }
  commitReason.textContent = text;
  commitReason.className = `mb-0 small ${ready ? "text-success" : check.state === "invalid" ? "text-danger" : ""}`;
}

/** The outcome of a commit, next to the button that was pressed. */
function showResult(kind, content) {
  document
    .getElementById("commit-result")
    .replaceChildren(
      h(
        "div",
        { class: `alert alert-${kind} alert-dismissible mb-0`, role: kind === "danger" ? "alert" : "status" },
        content,
        h("button", {
          type: "button",
          class: "btn-close",
          "data-bs-dismiss": "alert",
          "aria-label": "Close",
        }),
      ),
    );
}

async function commit() {
  if (check.state !== "valid") return;
  document.getElementById("commit-result").replaceChildren();
  const body = { ...payload(), label: labelInput.value.trim() || null };
  check = { state: "committing" };
  updateCommit();
  try {
    const submission = await api.post("/submissions", body);
    const label = submission.label ? ` “${submission.label}”` : "";
    const message =
      `Submission ${submission.id.site}${label} is committed: ` +
      `${plural(submission.metadatasetIds.length, "record")} and ${plural(submission.fileIds.length, "file")}.`;
    showResult(
      "success",
      h("span", { class: "submission-done", dataset: { submission: submission.id.site } }, message),
    );
    announce(message);
    labelInput.value = "";
    sheets.clear();
    check = { state: "idle" };
    await Promise.all([loadRecords(), loadFiles()]);
  } catch (error) {
    check = { state: "idle" };
    if (error instanceof ApiError && error.status === 400) {
      const sorted = sortProblems(error.items);
      setCheck({ state: "invalid", general: sorted.general }, sorted.records, sorted.files);
    } else {
      showResult("danger", `The submission failed: ${error.message}`);
      scheduleCheck();
    }
  }
}

// -- loading and deleting -----------------------------------------------------------

async function loadRecords() {
  try {
    records.setRecords(await api.get(`${userPath}/pending_metadatasets`));
  } catch (error) {
    showAlert("danger", `Your pending records could not be loaded: ${error.message}`);
  }
  refreshFileLinks();
  scheduleCheck();
}

// While the worker verifies files uploaded in parts, the listing is read again this often.
const VERIFICATION_POLL_MS = 3000;
let verificationPoll = null;

async function loadFiles() {
  try {
    const files = await api.get(`${userPath}/pending_files`);
    // Where each file's content stands (verifying, failed with a message, its SHA-256).
    const checks = await Promise.all(
      files.map((file) => api.get(`/files/${file.id.uuid}/verification`).catch(() => null)),
    );
    files.forEach((file, index) => {
      file.verification = checks[index];
    });
    uploads.setPending(files);
    clearTimeout(verificationPoll);
    if (checks.some((check) => check?.state === "verifying")) {
      verificationPoll = setTimeout(loadFiles, VERIFICATION_POLL_MS);
    }
  } catch (error) {
    showAlert("danger", `Your pending files could not be loaded: ${error.message}`);
  }
}

async function deleteRecords(ids) {
  try {
    await api.post("/rpc/delete-metadatasets", { metadatasetIds: ids });
    announce(`${plural(ids.length, "record")} deleted.`);
  } catch (error) {
    showAlert("danger", `The records could not be deleted: ${error.message}`);
  }
  await loadRecords();
}

async function deleteFile(entry) {
  uploads.remove([entry.key]);
  if (!entry.id) return;
  try {
    if (entry.multipart && entry.state !== "verifying") {
      // Cancel: S3 drops the parts, and the file goes with its upload.
      await api.request("DELETE", `/multipart-uploads/${entry.id.uuid}`).catch(async (error) => {
        if (error.status !== 404) throw error;
        await api.post("/rpc/delete-files", { fileIds: [entry.id.uuid] });
      });
    } else await api.post("/rpc/delete-files", { fileIds: [entry.id.uuid] });
    announce(`${entry.name} deleted.`);
  } catch (error) {
    showAlert("danger", `${entry.name} could not be deleted: ${error.message}`);
    await loadFiles();
  }
}

// -- drop zones and pickers -------------------------------------------------------

function dropZone(inputId, handle) {
  const input = document.getElementById(inputId);
  const zone = document.querySelector(`[data-drop-for="${inputId}"]`);
  input.addEventListener("change", () => {
    if (input.files.length) handle([...input.files]);
    input.value = ""; // so that choosing the same file again is a change too
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("drag-over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("drag-over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("drag-over");
    const files = [...event.dataTransfer.files];
    if (files.length) handle(files);
  });
}

function setUpInput() {
  dropZone("sheet-input", (files) => {
    if (!columns.length) {
      showAlert("warning", "No columns are defined yet, so no sample sheet can be read.");
      return;
    }
    sheets.add(files);
  });
  dropZone("data-input", (files) => {
    uploads.add(files);
    announce(`${plural(files.length, "file")} added; checksums and uploads are under way.`);
  });
  // A file dropped next to a zone must not make the browser leave the page.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
    });
  }
  window.addEventListener("beforeunload", (event) => {
    if (uploads.entries.some((entry) => uploads.active(entry))) {
      event.preventDefault(); // the browser asks whether to leave while uploads run
      event.returnValue = "";
    }
  });
  commitButton.addEventListener("click", commit);
  labelInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") commit();
  });
}

async function start() {
  setUpInput();
  try {
    const definitions = await api.get("/metadata");
    columns = submitterColumns(definitions);
  } catch (error) {
    showAlert("danger", `The column definitions could not be loaded: ${error.message}`);
  }
  fileColumns = columns.filter((column) => column.isFile).map((column) => column.name);
  renderColumns(document.getElementById("columns-body"), columns);
  records.setColumns(columns);
  await Promise.all([
    loadFiles(),
    api.get(`${userPath}/pending_metadatasets`).then(
      (staged) => records.setRecords(staged),
      (error) => showAlert("danger", `Your pending records could not be loaded: ${error.message}`),
    ),
  ]);
  document.getElementById("columns-panel").open = records.records.length === 0;
  loaded = true;
  refreshFileLinks();
  filesTable.render();
  records.render();
  scheduleCheck();
  root.dataset.ready = "true";
}

start();
