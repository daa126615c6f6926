// The pending files table and the overall upload progress.

import { formatBytes, formatDuration, h, plural, setProgress } from "./dom.js";

function progressBar(label) {
  return h(
    "div",
    {
      class: "progress file-progress",
      role: "progressbar",
      "aria-label": label,
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": 0,
    },
    h("div", { class: "progress-bar" }),
  );
}

function fraction(entry) {
  if (entry.state === "hashing") return entry.size ? entry.hashed / entry.size : 1;
  if (entry.state === "uploading") return entry.size ? entry.sent / entry.size : 1;
  return entry.state === "uploaded" || entry.state === "confirming" ? 1 : 0;
}

/** Speed and time left of an upload in parts, from the bytes sent since it (re)started. */
function pace(entry) {
  const seconds = (performance.now() - entry.startedAt) / 1000;
  const sent = entry.sent - entry.skippedBytes;
  if (seconds < 1 || sent <= 0) return "";
  const speed = sent / seconds;
  const skipped = entry.partsSkipped ? ` · ${entry.partsSkipped} parts were stored already` : "";
  return ` · ${(speed / 1e6).toFixed(1)} MB/s · about ${formatDuration((entry.size - entry.sent) / speed)} left${skipped}`;
}

function stateText(entry) {
  const percent = `${Math.floor(fraction(entry) * 100)} %`;
  switch (entry.state) {
    case "queued":
      return entry.checksum ? "waiting to upload" : "waiting for its checksum";
    case "hashing":
      return `computing checksum ${percent}`;
    case "announcing":
      return "starting upload";
    case "uploading":
      return entry.multipart ? `uploading ${percent}${pace(entry)}` : `uploading ${percent}`;
    case "confirming":
      return "verifying";
    case "uploaded":
      return "uploaded";
    case "verifying":
      return "uploaded; its content is being verified";
    case "rejected":
      return `verification failed: ${entry.verification?.message ?? ""}`;
    case "incomplete":
      return "not uploaded: add the file again to resume";
    default:
      return `failed: ${entry.error}`;
  }
}

export class FilesTable {
  /**
   * @param uploads the Uploads store
   * @param hooks
   *   onDelete(entry): delete this file (after confirmation)
   *   included(entry): whether the selection includes this file
   *   problems(entry): the last check's messages about this file
   */
  constructor(uploads, hooks) {
    this.uploads = uploads;
    this.hooks = hooks;
    this.body = document.querySelector("#files-table tbody");
    this.table = document.getElementById("files-table");
    this.empty = document.getElementById("files-empty");
    this.summary = document.getElementById("files-summary");
    this.overall = document.getElementById("files-overall");
    this.overallBar = document.getElementById("files-overall-bar");
    this.overallText = document.getElementById("files-overall-text");
    this.rows = new Map(); // entry key -> {entry, bar, state}
    this.body.addEventListener("click", (event) => this.clicked(event));
  }

  clicked(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const entry = this.rows.get(button.dataset.key)?.entry;
    if (!entry) return;
    if (button.dataset.action === "retry") this.uploads.retry(entry.key);
    else if (window.confirm(`Delete the file ${entry.name}?`)) this.hooks.onDelete(entry);
  }

  render() {
    const entries = this.uploads.entries;
    this.rows.clear();
    const fragment = document.createDocumentFragment();
    for (const entry of entries) fragment.append(this.renderRow(entry));
    this.body.replaceChildren(fragment);
    this.table.hidden = entries.length === 0;
    this.empty.hidden = entries.length > 0;
    const uploaded = entries.filter((entry) => entry.state === "uploaded").length;
    const included = entries.filter((entry) => this.hooks.included(entry)).length;
    this.summary.textContent = entries.length
      ? `${plural(entries.length, "file")}, ${uploaded.toLocaleString("en")} uploaded, ` +
        `${included.toLocaleString("en")} named by the selected records`
      : "";
    this.update();
  }

  renderRow(entry) {
    const problems = this.hooks.problems(entry);
    const bar = progressBar(`Progress of ${entry.name}`);
    const state = h("span", { class: "file-state" });
    const stateCell = h("td", { class: "state-cell" }, state, bar);
    if (entry.state === "uploaded") {
      stateCell.append(
        h(
          "div",
          { class: "small text-secondary" },
          this.hooks.included(entry) ? "in the selection" : "not named by a selected record",
        ),
      );
    }
    if (problems.length) {
      stateCell.append(
        h(
          "div",
          { class: "cell-message" },
          h("span", { class: "visually-hidden" }, "Problem: "),
          problems.join(" "),
        ),
      );
    }
    const actions = h("td", { class: "text-end text-nowrap" });
    if (entry.state === "failed" && entry.file) {
      actions.append(
        h(
          "button",
          {
            type: "button",
            class: "btn btn-outline-primary btn-sm me-1",
            dataset: { action: "retry", key: entry.key },
            "aria-label": `Retry ${entry.name}`,
          },
          "Retry",
        ),
      );
    }
    const busy = this.uploads.active(entry);
    actions.append(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-outline-danger btn-sm",
          dataset: { action: "delete", key: entry.key },
          "aria-label": `${busy ? "Cancel and delete" : "Delete"} ${entry.name}`,
        },
        busy ? "Cancel" : "Delete",
      ),
    );
    const row = h(
      "tr",
      {
        dataset: { key: entry.key, name: entry.name, state: entry.state },
        class: problems.length ? "has-problems" : "",
      },
      h("td", { class: "text-break" }, entry.name),
      h("td", { class: "small text-nowrap" }, entry.id?.site ?? ""),
      h("td", { class: "text-end text-nowrap" }, formatBytes(entry.size)),
      h(
        "td",
        { class: "small font-monospace md5-cell" },
        entry.checksum ?? "",
        entry.sha256 ? h("div", { class: "sha256", title: "SHA-256" }, `SHA-256 ${entry.sha256}`) : "",
      ),
      stateCell,
      actions,
    );
    this.rows.set(entry.key, { entry, bar, state });
    return row;
  }

  /** Progress only: the bars and numbers, without rebuilding rows. */
  update() {
    for (const { entry, bar, state } of this.rows.values()) {
      state.textContent = stateText(entry);
      const moving = entry.state === "hashing" || entry.state === "uploading";
      bar.hidden = !moving;
      if (moving) setProgress(bar, fraction(entry));
    }
    const batch = this.uploads.batch();
    this.overall.hidden = !batch;
    if (!batch) return;
    setProgress(this.overallBar, batch.total ? batch.sent / batch.total : 0);
    const parts = [
      `${batch.finished} of ${plural(batch.files, "file")} uploaded`,
      `${formatBytes(batch.sent)} of ${formatBytes(batch.total)}`,
    ];
    if (batch.hashing) parts.push(`${plural(batch.hashing, "checksum")} to compute`);
    if (batch.speed > 0) {
      parts.push(`${(batch.speed / 1e6).toFixed(1)} MB/s`);
      parts.push(`about ${formatDuration((batch.total - batch.sent) / batch.speed)} left`);
    }
    if (batch.failed) parts.push(`${batch.failed} failed`);
    this.overallText.textContent = parts.join(" · ");
  }
}
