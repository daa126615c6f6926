// The "Columns of the sample sheet" panel: what each submitter column expects.

import { h } from "./dom.js";

/** Submitter columns (those no service fills), in display order. */
export function submitterColumns(definitions) {
  return definitions
    .filter((definition) => definition.serviceId === null)
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

function rules(column) {
  const items = [];
  if (column.dateTimeFmt) {
    items.push(h("li", {}, "A date / time written as ", h("code", {}, column.dateTimeFmt), "."));
  }
  if (column.regExp) {
    items.push(
      h(
        "li",
        {},
        column.regexDescription ? `${column.regexDescription} ` : "Must match ",
        h("code", { class: "text-break" }, column.regExp),
      ),
    );
  }
  if (column.isFile) {
    items.push(h("li", {}, "The exact name of a data file you add below."));
  }
  if (column.isSiteUnique) {
    items.push(h("li", {}, "Unique across everything submitted on this site."));
  } else if (column.isSubmissionUnique) {
    items.push(h("li", {}, "Unique within a submission."));
  }
  if (!items.length) items.push(h("li", {}, "Free text."));
  return h("ul", { class: "mb-0 ps-3" }, items);
}

export function renderColumns(container, columns) {
  container.replaceChildren();
  if (!columns.length) {
    container.append(
      h(
        "p",
        { class: "text-secondary mb-0" },
        "No columns are defined yet. Ask a site admin to define them.",
      ),
    );
    return;
  }
  const rows = columns.map((column) =>
    h(
      "tr",
      { dataset: { column: column.name } },
      h("th", { scope: "row" }, h("code", {}, column.name)),
      h(
        "td",
        {},
        column.isMandatory
          ? h("span", { class: "badge text-bg-danger" }, "mandatory")
          : h("span", { class: "badge text-bg-light border" }, "optional"),
        column.isFile ? [" ", h("span", { class: "badge text-bg-info" }, "file")] : null,
      ),
      h("td", {}, column.longDescription || h("span", { class: "text-secondary" }, "—")),
      h("td", {}, rules(column)),
      h("td", {}, column.example ? h("code", {}, column.example) : ""),
    ),
  );
  container.append(
    h(
      "div",
      { class: "table-responsive" },
      h(
        "table",
        { class: "table table-sm align-top mb-0", id: "columns-table" },
        h("caption", { class: "visually-hidden" }, "The columns a sample sheet has"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Column", "Required", "Description", "Format and rules", "Example"].map((title) =>
              h("th", { scope: "col" }, title),
            ),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
  );
}
