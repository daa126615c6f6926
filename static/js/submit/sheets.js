// Sample sheets: checked first (dry run), staged only when every row is valid
// (or when the submitter chooses to stage the valid rows anyway), so that adding
// a corrected sheet again never stages rows twice.

import { ApiError } from "./api.js";
import { announce, h, plural } from "./dom.js";

const MAX_REJECTED_SHOWN = 500;

export class Sheets {
  /**
   * @param api the Api
   * @param hooks
   *   columns(): the submitter columns
   *   onStaged(): rows were staged (the records table should reload)
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.section = document.getElementById("sheet-report");
    this.body = document.getElementById("sheet-report-body");
    this.queue = Promise.resolve();
    this.busy = 0; // sheets added and not yet reported on
  }

  /** Check and stage each sheet in turn; each gets its own report. */
  add(files) {
    if (this.busy === 0) this.body.replaceChildren(); // earlier reports are done with
    this.section.hidden = false;
    for (const file of files) {
      const report = h("div", { class: "sheet-report mb-3", dataset: { sheet: file.name } });
      this.body.append(report);
      this.busy += 1;
      this.queue = this.queue
        .then(() => this.check(file, report))
        .catch((error) => this.show(report, "danger", `${file.name} could not be read: ${error}`))
        .finally(() => {
          this.busy -= 1;
        });
    }
  }

  /** Forget the reports (after a commit they are history). */
  clear() {
    if (this.busy) return;
    this.body.replaceChildren();
    this.section.hidden = true;
  }

  send(file, dryRun) {
    const form = new FormData();
    form.append("file", file, file.name);
    return this.api.request("POST", "/samplesheets", { form, query: dryRun ? { dryRun: true } : {} });
  }

  async check(chosen, report) {
    this.show(report, "secondary", `Checking ${chosen.name}…`);
    // A copy in memory: the sheet on disk may be edited before "stage anyway" is pressed.
    const file = new File([await chosen.arrayBuffer()], chosen.name, { type: chosen.type });
    announce(`Checking the sample sheet ${file.name}.`);
    let result;
    try {
      result = await this.send(file, true);
    } catch (error) {
      this.refused(report, file, error);
      return;
    }
    if (result.rowsRead === 0) {
      this.show(report, "warning", `${file.name} has no data rows: nothing was staged.`);
      announce(`${file.name} has no data rows.`);
    } else if (result.rejected.length === 0) {
      await this.stage(file, report);
    } else {
      this.rejected(report, file, result);
    }
  }

  async stage(file, report) {
    this.show(report, "secondary", `Staging the rows of ${file.name}…`);
    let result;
    try {
      result = await this.send(file, false);
    } catch (error) {
      this.refused(report, file, error);
      return;
    }
    const staged = result.staged.length;
    const message = `${plural(staged, "row")} staged from ${file.name}.`;
    if (result.rejected.length) {
      this.rejected(report, file, result);
    } else {
      this.show(report, "success", message);
    }
    announce(message);
    this.hooks.onStaged();
  }

  show(report, kind, ...content) {
    report.replaceChildren(
      h(
        "div",
        { class: `alert alert-${kind} mb-2 sheet-status`, role: kind === "danger" ? "alert" : "status" },
        ...content,
      ),
    );
  }

  refused(report, file, error) {
    const items = error instanceof ApiError ? error.items : [{ message: String(error), field: null }];
    this.show(
      report,
      "danger",
      h("p", { class: "mb-1" }, `The sheet ${file.name} was refused; nothing was staged.`),
      h(
        "ul",
        { class: "mb-0 sheet-problems" },
        items.map((item) =>
          h("li", {}, item.field ? [h("strong", {}, item.field), ": "] : null, item.message),
        ),
      ),
    );
    announce(`The sheet ${file.name} was refused: ${items.map((item) => item.message).join(" ")}`);
  }

  rejected(report, file, result) {
    const bad = result.rejected.length;
    const good = result.rowsRead - bad;
    const problems = result.rejected.reduce((sum, row) => sum + row.errors.length, 0);
    const summary = result.dryRun
      ? `${file.name}: ${plural(result.rowsRead, "row")} read, ${plural(bad, "row")} with ` +
        `${plural(problems, "problem")}. Nothing was staged: fix the cells marked below and add the sheet again.`
      : `${file.name}: ${plural(result.staged.length, "row")} staged, ${plural(bad, "row")} not staged (below).`;
    const content = [h("p", { class: "mb-0" }, summary)];
    if (result.dryRun && good > 0) {
      content.push(
        h(
          "button",
          {
            type: "button",
            class: "btn btn-outline-primary btn-sm mt-2 stage-anyway",
            onclick: () => this.stage(file, report),
          },
          `Stage the ${plural(good, "valid row")} anyway`,
        ),
      );
    }
    this.show(report, result.dryRun ? "danger" : "warning", ...content);
    report.append(this.rejectedTable(result.rejected));
    announce(summary);
  }

  rejectedTable(rejected) {
    const columns = this.hooks.columns().map((column) => column.name);
    const known = new Set(columns);
    const extra = [];
    let wholeRow = false;
    for (const row of rejected) {
      for (const error of row.errors) {
        if (error.field === null) wholeRow = true;
        else if (!known.has(error.field)) {
          known.add(error.field);
          extra.push(error.field);
        }
      }
    }
    const shownColumns = [...columns, ...extra];
    const rows = rejected.slice(0, MAX_REJECTED_SHOWN).map((row) => {
      const byField = new Map();
      for (const error of row.errors) {
        const key = error.field ?? "";
        if (!byField.has(key)) byField.set(key, []);
        byField.get(key).push(error);
      }
      return h(
        "tr",
        { dataset: { row: row.row } },
        h("th", { scope: "row" }, String(row.row)),
        shownColumns.map((name) => this.problemCell(name, byField.get(name))),
        wholeRow ? this.problemCell("", byField.get("")) : null,
      );
    });
    const more = rejected.length - rows.length;
    return h(
      "div",
      { class: "table-responsive" },
      h(
        "table",
        { class: "table table-sm table-bordered align-top rejected-table" },
        h(
          "caption",
          { class: "caption-top" },
          "Rows not staged: each problem is shown at its cell, with the value read from the sheet",
        ),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Sheet row"),
            shownColumns.map((name) => h("th", { scope: "col", dataset: { column: name } }, name)),
            wholeRow ? h("th", { scope: "col" }, "Whole row") : null,
          ),
        ),
        h("tbody", {}, rows),
      ),
      more > 0
        ? h("p", { class: "small text-secondary" }, `…and ${plural(more, "more row")} with problems.`)
        : null,
    );
  }

  problemCell(name, errors) {
    const cell = h("td", { dataset: { column: name } });
    if (!errors) return cell;
    cell.classList.add("cell-problem");
    for (const error of errors) {
      cell.append(
        h(
          "div",
          {},
          error.value === null || error.value === ""
            ? h("span", { class: "text-secondary fst-italic small" }, "empty")
            : h("code", { class: "cell-value" }, error.value),
          h(
            "div",
            { class: "cell-message" },
            h("span", { class: "visually-hidden" }, "Problem: "),
            error.message,
          ),
        ),
      );
    }
    return cell;
  }
}
