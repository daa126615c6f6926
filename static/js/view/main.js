// The View page: submitted records found, sorted, paged and exported through the
// public API (GET /metadatasets). The page's URL holds its whole state.

import { Api, ApiError } from "../submit/api.js";
import { h } from "../submit/dom.js";
import {
  ENTITY_FILTERS,
  PAGE_SIZES,
  apiQuery,
  parseFilter,
  rememberPageSize,
  stateFromUrl,
  urlFromState,
} from "./query.js";
import { FIXED_COLUMNS, recordRow, visibleColumns } from "./records.js";

const root = document.getElementById("view-app");
const API = root.dataset.api;
const api = new Api(API, "");
const $ = (id) => document.getElementById(id);

const ENTITY_NAMES = {
  submissionId: "Submission",
  groupId: "Group",
  userId: "User",
  awaitingService: "Awaiting service",
};
const EMPTY = "(empty)";
const NOT_EMPTY = "(not empty)";

let state = stateFromUrl(window.location.search);
let columns = [];
let services = []; // the services whose waiting records the user may list
let total = 0;
let loading = null; // the AbortController of the listing being loaded

function showError(error) {
  const message = error instanceof ApiError ? error.message : String(error);
  $("view-alerts").replaceChildren(h("div", { class: "alert alert-danger", role: "alert" }, message));
}

/** Go to ``changes`` of the state: a new history entry, then the listing. */
function navigate(changes, { push = true } = {}) {
  state = { ...state, ...changes };
  const url = urlFromState(state);
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  render();
}

// Column filters: typed text means "contains"; "=x" equals x; "(empty)" and "(not empty)".
function filterText(spec) {
  if (spec.operation === "equals") return `=${spec.value}`;
  if (spec.operation === "empty") return EMPTY;
  if (spec.operation === "notempty") return NOT_EMPTY;
  return spec.value;
}

function specOfText(name, text) {
  const value = text.trim();
  if (!value) return null;
  if (value === EMPTY) return `${name}:empty`;
  if (value === NOT_EMPTY) return `${name}:notempty`;
  if (value.startsWith("=")) return `${name}:equals:${value.slice(1)}`;
  return `${name}:contains:${value}`;
}

function currentFilters() {
  const names = columns.map((column) => column.name);
  return state.filters.map((spec) => parseFilter(spec, names)).filter(Boolean);
}

function setColumnFilters(name, specs) {
  const others = state.filters.filter((spec) => parseFilter(spec, [name])?.column !== name);
  navigate({ filters: [...others, ...specs.filter(Boolean)], page: 1 });
}

function sortButton(title, key) {
  const ascending = state.sort === key;
  const descending = state.sort === `-${key}`;
  const arrow = ascending ? " ▲" : descending ? " ▼" : "";
  return h(
    "button",
    {
      type: "button",
      class: "btn btn-link btn-sm p-0 sort-button text-nowrap",
      dataset: { sort: key },
      "aria-sort": ascending ? "ascending" : descending ? "descending" : null,
      onclick: () => navigate({ sort: ascending ? `-${key}` : key, page: 1 }),
    },
    `${title}${arrow}`,
  );
}

function filterInputs(column) {
  const mine = currentFilters().filter((spec) => spec.column === column.name);
  if (column.dateTimeFmt) {
    const bound = (operation) => mine.find((spec) => spec.operation === operation)?.value || "";
    const dateInput = (operation, label) =>
      h("input", {
        type: "date",
        class: "form-control form-control-sm",
        "aria-label": `${column.name} ${label}`,
        dataset: { filterColumn: column.name, filterOperation: operation },
        value: bound(operation),
        onchange: () => {
          const inputs = document.querySelectorAll(`[data-filter-column="${CSS.escape(column.name)}"]`);
          setColumnFilters(
            column.name,
            [...inputs].map((input) =>
              input.value ? `${column.name}:${input.dataset.filterOperation}:${input.value}` : null,
            ),
          );
        },
      });
    return [dateInput("from", "from"), dateInput("to", "to")];
  }
  return h("input", {
    type: "search",
    class: "form-control form-control-sm",
    placeholder: "contains…",
    title: 'Contains this text; "=text" for exactly it, "(empty)" or "(not empty)"',
    "aria-label": `Filter ${column.name}`,
    dataset: { filterColumn: column.name },
    value: mine.length ? filterText(mine[0]) : "",
    onchange: (event) => setColumnFilters(column.name, [specOfText(column.name, event.target.value)]),
  });
}

function renderHead() {
  const titles = [
    ...FIXED_COLUMNS.map((column) => h("th", { scope: "col" }, sortButton(column.title, column.sort))),
    ...columns.map((column) =>
      h("th", { scope: "col" }, sortButton(column.name, `record.${column.name}`)),
    ),
  ];
  const filters = [
    ...FIXED_COLUMNS.map(() => h("td", {})),
    ...columns.map((column) => h("td", {}, filterInputs(column))),
  ];
  $("records").tHead.replaceChildren(h("tr", {}, titles), h("tr", { class: "filter-row" }, filters));
}

function entityLabel(name, id) {
  if (name !== "awaitingService") return id;
  const service = services.find((item) => item.id.site === id || item.id.uuid === id);
  return service ? service.name : id;
}

function renderActiveFilters() {
  const chips = ENTITY_FILTERS.filter((name) => state[name]).map((name) =>
    h(
      "span",
      { class: "badge text-bg-light border" },
      `${ENTITY_NAMES[name]}: ${entityLabel(name, state[name])} `,
      h(
        "button",
        {
          type: "button",
          class: "btn-close btn-close-sm",
          "aria-label": `Remove the ${ENTITY_NAMES[name]} filter`,
          onclick: () => navigate({ [name]: "", page: 1 }),
        },
      ),
    ),
  );
  $("active-filters").replaceChildren(...chips);
}

function linkWith(changes) {
  return urlFromState({ ...state, ...changes, page: 1 });
}

function renderExports() {
  for (const format of ["csv", "tsv", "xlsx", "json"]) {
    $(`export-${format}`).href = `${API}/metadatasets?${apiQuery(state, { format, paged: false })}`;
  }
}

function renderPaging() {
  const pages = Math.max(1, Math.ceil(total / state.size));
  $("page-info").textContent = `Page ${state.page} of ${pages}`;
  $("previous-page").disabled = state.page <= 1;
  $("next-page").disabled = state.page >= pages;
  $("total").textContent = `${total} record${total === 1 ? "" : "s"}`;
}

async function loadRows() {
  if (loading) loading.abort();
  loading = new AbortController();
  const query = apiQuery(state, { format: "json", paged: true });
  const page = await api.getPage("/metadatasets", query, { signal: loading.signal });
  total = page.total;
  const body = page.items;
  const links = {
    user: (id) => linkWith({ userId: id }),
    group: (id) => linkWith({ groupId: id }),
  };
  $("records").tBodies[0].replaceChildren(...body.map((item) => recordRow(API, columns, item, links)));
  renderPaging();
  root.dataset.loaded = urlFromState(state);
}

async function render() {
  $("search-words").value = state.q;
  $("submitted-after").value = state.after;
  $("submitted-before").value = state.before;
  $("page-size").value = String(state.size);
  $("awaiting-service").value = state.awaitingService;
  $("view-alerts").replaceChildren();
  delete root.dataset.loaded;
  renderHead();
  renderActiveFilters();
  renderExports();
  try {
    await loadRows();
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
  }
}

function wire() {
  $("view-search").addEventListener("submit", (event) => {
    event.preventDefault();
    navigate({
      q: $("search-words").value.trim(),
      after: $("submitted-after").value,
      before: $("submitted-before").value,
      page: 1,
    });
  });
  $("reset-button").addEventListener("click", () =>
    navigate({
      q: "",
      filters: [],
      after: "",
      before: "",
      submissionId: "",
      groupId: "",
      userId: "",
      awaitingService: "",
      page: 1,
    }),
  );
  $("awaiting-service").addEventListener("change", (event) =>
    navigate({ awaitingService: event.target.value, page: 1 }),
  );
  $("page-size").addEventListener("change", (event) => {
    const size = Number(event.target.value);
    if (!PAGE_SIZES.includes(size)) return;
    rememberPageSize(size);
    navigate({ size, page: 1 });
  });
  $("previous-page").addEventListener("click", () => navigate({ page: state.page - 1 }));
  $("next-page").addEventListener("click", () => navigate({ page: state.page + 1 }));
  window.addEventListener("popstate", () => {
    state = stateFromUrl(window.location.search);
    render();
  });
}

/** The services whose waiting records the user may list: those they run (any, for site readers). */
function waitingLists(listed, whoami) {
  const mine = (service) => service.userIds.some((id) => id.uuid === whoami.id.uuid);
  const found = listed.filter((service) => whoami.siteRead || mine(service));
  $("awaiting-service").append(
    ...found.map((service) => h("option", { value: service.id.site }, service.name)),
  );
  $("awaiting-filter").hidden = found.length === 0;
  return found;
}

async function start() {
  try {
    const [whoami, definitions, listed] = await Promise.all([
      api.get("/rpc/whoami"),
      api.get("/metadata"),
      api.get("/services"),
    ]);
    columns = visibleColumns(definitions, whoami);
    services = waitingLists(listed, whoami);
  } catch (error) {
    showError(error);
    return;
  }
  wire();
  navigate({}, { push: false });
}

start();
