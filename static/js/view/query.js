// The View page's state (search, filters, sort, page) and its two spellings: the page's
// own URL, so that a link or a reload shows the same view, and GET /metadatasets's query.

export const PAGE_SIZES = [25, 50, 100, 500];
export const DEFAULT_SORT = "-submittedAt";
const SIZE_KEY = "datameta.view.pageSize";
// Entity filters: the same name in the page's URL and in the API's query
// (awaitingService: the sets that service has not reported on yet).
export const ENTITY_FILTERS = ["submissionId", "groupId", "userId", "awaitingService"];

function storedPageSize() {
  const stored = Number(window.localStorage.getItem(SIZE_KEY));
  return PAGE_SIZES.includes(stored) ? stored : PAGE_SIZES[0];
}

export function rememberPageSize(size) {
  window.localStorage.setItem(SIZE_KEY, String(size));
}

/** The state a page URL's query describes; what it leaves out takes its default. */
export function stateFromUrl(search) {
  const params = new URLSearchParams(search);
  const size = Number(params.get("size"));
  const state = {
    q: params.get("q") || "",
    filters: params.getAll("filter"),
    sort: params.get("sort") || DEFAULT_SORT,
    page: Math.max(1, Number.parseInt(params.get("page"), 10) || 1),
    size: PAGE_SIZES.includes(size) ? size : storedPageSize(),
    after: params.get("after") || "",
    before: params.get("before") || "",
  };
  for (const name of ENTITY_FILTERS) state[name] = params.get(name) || "";
  return state;
}

/** The page URL's query for ``state`` (defaults left out, so links stay short). */
export function urlFromState(state) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const spec of state.filters) params.append("filter", spec);
  if (state.sort !== DEFAULT_SORT) params.set("sort", state.sort);
  for (const name of ENTITY_FILTERS) if (state[name]) params.set(name, state[name]);
  if (state.after) params.set("after", state.after);
  if (state.before) params.set("before", state.before);
  if (state.page > 1) params.set("page", String(state.page));
  params.set("size", String(state.size));
  return `?${params}`;
}

/** A calendar day in the browser's time zone as an ISO instant (``nextDay``: its end). */
function dayStart(day, nextDay) {
  const moment = new Date(`${day}T00:00:00`);
  if (nextDay) moment.setDate(moment.getDate() + 1);
  return moment.toISOString();
}

/** GET /metadatasets's query for ``state``: every matching set, or ``page`` of them. */
export function apiQuery(state, { format, paged }) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const spec of state.filters) params.append("filter", spec);
  params.set("sort", state.sort);
  for (const name of ENTITY_FILTERS) if (state[name]) params.set(name, state[name]);
  if (state.after) params.set("submittedAfter", dayStart(state.after, false));
  if (state.before) params.set("submittedBefore", dayStart(state.before, true));
  if (paged) {
    params.set("limit", String(state.size));
    params.set("offset", String((state.page - 1) * state.size));
  }
  params.set("format", format);
  return params;
}

/** ``{column, operation, value}`` of a filter specification ``<column>:<op>[:<value>]``. */
export function parseFilter(spec, columnNames) {
  const byLength = [...columnNames].sort((a, b) => b.length - a.length);
  for (const name of byLength) {
    if (spec.startsWith(`${name}:`)) {
      const rest = spec.slice(name.length + 1);
      const at = rest.indexOf(":");
      return at < 0
        ? { column: name, operation: rest, value: "" }
        : { column: name, operation: rest.slice(0, at), value: rest.slice(at + 1) };
    }
  }
  return null;
}
