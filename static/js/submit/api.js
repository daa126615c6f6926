// The public JSON API (/api/v1), as the submit page uses it: the session cookie
// authenticates, and every change carries the session's CSRF token.

/** An answer other than 2xx: `items` is DataMeta's error list. */
export class ApiError extends Error {
  constructor(status, items) {
    super(items.map((item) => item.message).join(" ") || `The server answered ${status}.`);
    this.status = status;
    this.items = items;
  }
}

function errorItems(status, body) {
  if (Array.isArray(body) && body.every((item) => item && typeof item.message === "string")) {
    return body;
  }
  const messages = {
    0: "The server cannot be reached. Check your connection and try again.",
    401: "Your session has ended. Please log in again.",
    413: "The file is too large.",
  };
  const message = messages[status] || `The server answered ${status}. Please try again.`;
  return [{ exception: "HttpError", message, entity: null, field: null }];
}

export class Api {
  constructor(base, csrfToken) {
    this.base = base;
    this.csrfToken = csrfToken;
  }

  /**
   * Send a request: the parsed body and the answer's headers, or an ApiError. ``query`` is
   * an object or URLSearchParams (for repeated keys); ``signal`` aborts (an AbortError).
   */
  async exchange(method, path, { json, form, query, signal } = {}) {
    const url = new URL(this.base + path, window.location.origin);
    const entries = query instanceof URLSearchParams ? query : Object.entries(query || {});
    for (const [key, value] of entries) {
      url.searchParams.append(key, String(value));
    }
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = this.csrfToken;
    }
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, signal, credentials: "same-origin" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, errorItems(0, null));
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, errorItems(response.status, data));
    }
    return { data, headers: response.headers };
  }

  /** Send a request: the parsed body, or an ApiError. */
  async request(method, path, options) {
    return (await this.exchange(method, path, options)).data;
  }

  /** One page of a paged list: its items and how many there are over all pages (X-Total-Count). */
  async getPage(path, query, { signal } = {}) {
    const { data, headers } = await this.exchange("GET", path, { query, signal });
    const total = Number.parseInt(headers.get("X-Total-Count"), 10);
    return { items: data, total: Number.isNaN(total) ? data.length : total };
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, json, query) {
    return this.request("POST", path, { json, query });
  }

  put(path, json) {
    return this.request("PUT", path, { json });
  }
}
