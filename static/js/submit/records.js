// The pending metadata records: one row per staged record, one column per
// definition. Only one page of rows is in the DOM, so that tens of thousands of
// records stay responsive; the selection covers all of them and lives here.

import { h, plural } from "./dom.js";

const FILE_BADGES = {
  received: ["text-bg-success", "received"],
  uploading: ["text-bg-info", "uploading"],
  failed: ["text-bg-warning", "upload failed"],
  missing: ["text-bg-secondary", "missing"],
};

export class RecordsTable {
  /**
   * @param {object} hooks
   *   onSelectionChange(): the selection changed
   *   onDelete(ids): delete these records (after confirmation)
   *   fileStatus(name): "received" | "uploading" | "failed" | "missing"
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.table = document.getElementById("records-table");
    this.head = this.table.tHead;
    this.body = this.table.tBodies[0];
    this.summary = document.getElementById("records-summary");
    this.empty = document.getElementById("records-empty");
    this.pager = document.getElementById("records-pager");
    this.toolbar = document.getElementById("records-toolbar");
    this.pageInfo = document.getElementById("records-page-info");
    this.pageSizeSelect = document.getElementById("records-page-size");
    this.filterInput = document.getElementById("records-filter");
    this.problemsOnlyBox = document.getElementById("records-problems-only");
    this.selectAllButton = document.getElementById("records-select-all");
    this.deselectAllButton = document.getElementById("records-deselect-all");
    this.deleteButton = document.getElementById("records-delete");

    this.columns = [];
    this.records = [];
    this.byId = new Map();
    this.selected = new Set();
    this.known = new Set();
    this.problems = new Map(); // record uuid -> {cells: Map(column -> [messages]), row: [messages]}
    this.checked = false; // whether problems reflect a finished check of the selection
    this.page = 0;
    this.pageSize = Number(this.pageSizeSelect.value);
    this.filtered = null; // cached result of the filter
    this.haystacks = new Map();
    this.bindControls();
  }

  bindControls() {
    this.body.addEventListener("change", (event) => {
      const box = event.target.closest("input[data-record]");
      if (!box) return;
      this.setSelected([box.dataset.record], box.checked);
    });
    this.pager.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-page]");
      if (button) this.goTo(button.dataset.page);
    });
    this.pageSizeSelect.addEventListener("change", () => {
      const first = this.page * this.pageSize;
      this.pageSize = Number(this.pageSizeSelect.value);
      this.page = Math.floor(first / this.pageSize);
      this.render();
    });
    let filterTimer = null;
    this.filterInput.addEventListener("input", () => {
      window.clearTimeout(filterTimer);
      filterTimer = window.setTimeout(() => this.refilter(), 150);
    });
    this.problemsOnlyBox.addEventListener("change", () => this.refilter());
    this.selectAllButton.addEventListener("click", () => {
      this.setSelected(
        this.visible().map((record) => record.id.uuid),
        true,
      );
    });
    this.deselectAllButton.addEventListener("click", () => {
      this.setSelected(
        this.visible().map((record) => record.id.uuid),
        false,
      );
    });
    this.deleteButton.addEventListener("click", () => {
      const ids = this.selectedIds();
      if (!ids.length) return;
      const question = `Delete ${plural(ids.length, "selected record")}? This cannot be undone.`;
      if (window.confirm(question)) this.hooks.onDelete(ids);
    });
  }

  setColumns(columns) {
    this.columns = columns;
    this.haystacks.clear();
    this.renderHead();
  }

  /** New records from the API; the selection is kept, records not seen before are selected. */
  setRecords(records) {
    this.records = records;
    this.byId = new Map(records.map((record) => [record.id.uuid, record]));
    for (const id of [...this.selected]) {
      if (!this.byId.has(id)) this.selected.delete(id);
    }
    for (const id of this.byId.keys()) {
      if (!this.known.has(id)) {
        this.known.add(id);
        this.selected.add(id);
      }
    }
    this.haystacks.clear();
    this.filtered = null;
    this.render();
  }

  /** Problems of the last check, by record uuid; `checked` says a check has finished. */
  setProblems(problems, checked) {
    this.problems = problems;
    this.checked = checked;
    if (this.problemsOnlyBox.checked) this.filtered = null;
    this.render();
  }

  selectedIds() {
    return this.records.filter((record) => this.selected.has(record.id.uuid)).map((r) => r.id.uuid);
  }

  selectedRecords() {
    return this.records.filter((record) => this.selected.has(record.id.uuid));
  }

  setSelected(ids, selected) {
    let changed = false;
    for (const id of ids) {
      if (selected === this.selected.has(id)) continue;
      changed = true;
      if (selected) this.selected.add(id);
      else this.selected.delete(id);
    }
    if (!changed) return;
    this.render();
    this.hooks.onSelectionChange();
  }

  problemCount(id) {
    const problems = this.problems.get(id);
    if (!problems) return 0;
    let count = problems.row.length;
    for (const messages of problems.cells.values()) count += messages.length;
    return count;
  }

  refilter() {
    this.filtered = null;
    this.page = 0;
    this.render();
  }

  haystack(record) {
    let text = this.haystacks.get(record.id.uuid);
    if (text === undefined) {
      text = [record.id.site, ...this.columns.map((column) => record.record[column.name] ?? "")]
        .join("\u0000")
        .toLowerCase();
      this.haystacks.set(record.id.uuid, text);
    }
    return text;
  }

  /** The records the filter lets through, in order. */
  visible() {
    // Keyed by what the controls say now, so that buttons pressed before the
    // delayed redraw of the filter act on what the filter says.
    const needle = this.filterInput.value.trim().toLowerCase();
    const problemsOnly = this.problemsOnlyBox.checked;
    const key = `${problemsOnly}\u0000${needle}`;
    if (this.filtered && this.filterKey === key) return this.filtered;
    this.filterKey = key;
    this.filtered = this.records.filter(
      (record) =>
        (!problemsOnly || this.problemCount(record.id.uuid) > 0) &&
        (!needle || this.haystack(record).includes(needle)),
    );
    return this.filtered;
  }

  pageCount() {
    return Math.max(1, Math.ceil(this.visible().length / this.pageSize));
  }

  goTo(where) {
    const last = this.pageCount() - 1;
    const targets = { first: 0, previous: this.page - 1, next: this.page + 1, last };
    this.page = Math.max(0, Math.min(last, targets[where] ?? this.page));
    this.render();
  }

  renderHead() {
    const pageBox = h("input", {
      type: "checkbox",
      class: "form-check-input",
      id: "records-page-checkbox",
      "aria-label": "Select the records on this page",
    });
    pageBox.addEventListener("change", () => {
      this.setSelected(
        this.pageRecords().map((record) => record.id.uuid),
        pageBox.checked,
      );
    });
    this.pageBox = pageBox;
    this.head.replaceChildren(
      h(
        "tr",
        {},
        h("th", { scope: "col", class: "select-cell" }, pageBox),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col" }, "ID"),
        this.columns.map((column) =>
          h(
            "th",
            { scope: "col", dataset: { column: column.name } },
            column.name,
            column.isMandatory ? h("span", { class: "text-danger", title: "mandatory" }, " *") : null,
          ),
        ),
      ),
    );
  }

  pageRecords() {
    const start = this.page * this.pageSize;
    return this.visible().slice(start, start + this.pageSize);
  }

  render() {
    const visible = this.visible();
    this.page = Math.min(this.page, this.pageCount() - 1);
    const rows = this.pageRecords();
    const fragment = document.createDocumentFragment();
    for (const record of rows) fragment.append(this.renderRow(record));
    this.body.replaceChildren(fragment);

    const total = this.records.length;
    this.empty.hidden = total > 0;
    this.table.hidden = total === 0;
    this.pager.hidden = total === 0;
    this.toolbar.hidden = total === 0;
    const start = visible.length ? this.page * this.pageSize + 1 : 0;
    const end = Math.min(visible.length, (this.page + 1) * this.pageSize);
    const filteredNote = visible.length === total ? "" : ` (filtered from ${total.toLocaleString("en")})`;
    this.pageInfo.textContent =
      `Rows ${start.toLocaleString("en")}–${end.toLocaleString("en")} of ` +
      `${visible.length.toLocaleString("en")}${filteredNote} · page ${this.page + 1} of ${this.pageCount()}`;
    for (const button of this.pager.querySelectorAll("button[data-page]")) {
      const back = button.dataset.page === "first" || button.dataset.page === "previous";
      button.disabled = back ? this.page === 0 : this.page >= this.pageCount() - 1;
    }
    this.summary.textContent = `${plural(total, "record")}, ${this.selected.size.toLocaleString("en")} selected`;
    this.deleteButton.disabled = this.selected.size === 0;
    this.deleteButton.textContent = this.selected.size
      ? `Delete selected (${this.selected.size.toLocaleString("en")})`
      : "Delete selected";
    // With a filter, the buttons act on the records it shows, and say so.
    const filtering = visible.length !== total;
    this.selectAllButton.textContent = filtering
      ? `Select all ${visible.length.toLocaleString("en")} shown`
      : "Select all";
    this.deselectAllButton.textContent = filtering ? "Deselect all shown" : "Deselect all";
    this.selectAllButton.disabled = visible.every((record) => this.selected.has(record.id.uuid));
    this.deselectAllButton.disabled = !visible.some((record) => this.selected.has(record.id.uuid));
    if (this.pageBox) {
      const onPage = rows.filter((record) => this.selected.has(record.id.uuid)).length;
      this.pageBox.checked = rows.length > 0 && onPage === rows.length;
      this.pageBox.indeterminate = onPage > 0 && onPage < rows.length;
      this.pageBox.disabled = rows.length === 0;
    }
  }

  renderRow(record) {
    const id = record.id.uuid;
    const selected = this.selected.has(id);
    const problems = this.problems.get(id);
    const count = this.problemCount(id);
    const row = h("tr", {
      dataset: { record: id, site: record.id.site },
      class: [selected ? "selected" : "not-selected", count ? "has-problems" : ""].join(" "),
    });
    row.append(
      h(
        "td",
        { class: "select-cell" },
        h("input", {
          type: "checkbox",
          class: "form-check-input",
          checked: selected,
          dataset: { record: id },
          "aria-label": `Select the record ${record.id.site}`,
        }),
      ),
      this.statusCell(selected, count, problems),
      h("td", { class: "text-nowrap small" }, record.id.site),
    );
    for (const column of this.columns) {
      row.append(this.valueCell(column, record.record[column.name], problems?.cells.get(column.name)));
    }
    return row;
  }

  statusCell(selected, count, problems) {
    const cell = h("td", { class: "status-cell" });
    if (count) {
      cell.append(h("span", { class: "badge text-bg-danger" }, plural(count, "problem")));
      if (problems.row.length) {
        cell.append(
          h(
            "ul",
            { class: "cell-message row-messages" },
            problems.row.map((m) => h("li", {}, m)),
          ),
        );
      }
    } else if (!selected) {
      cell.append(h("span", { class: "text-secondary small" }, "not selected"));
    } else if (this.checked) {
      cell.append(h("span", { class: "badge text-bg-success" }, "ready"));
    } else {
      cell.append(h("span", { class: "text-secondary small" }, "selected"));
    }
    return cell;
  }

  valueCell(column, value, messages) {
    const cell = h("td", { dataset: { column: column.name } });
    if (value === null || value === undefined || value === "") {
      cell.append(h("span", { class: "text-secondary fst-italic small" }, "empty"));
    } else {
      cell.append(h("span", { class: "cell-value" }, value));
      if (column.isFile) {
        const status = this.hooks.fileStatus(value);
        const [style, text] = FILE_BADGES[status];
        cell.append(
          " ",
          h("span", { class: `badge ${style} file-badge`, dataset: { fileStatus: status } }, text),
        );
      }
    }
    if (messages?.length) {
      const text = messages.join(" ");
      cell.classList.add("cell-problem");
      // Focusable so that keyboard users reach the message too (it is also shown as text).
      cell.tabIndex = 0;
      cell.title = text;
      cell.append(
        h("div", { class: "cell-message" }, h("span", { class: "visually-hidden" }, "Problem: "), text),
      );
    }
    return cell;
  }
}
