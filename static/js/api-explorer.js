// The interactive API explorer: Swagger UI over the app's own OpenAPI document.
// A module runs once the document is parsed, so the element is there.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Calls made from the explorer use the browser's session and its CSRF token.
  requestInterceptor: (request) => {
    request.headers["X-CSRF-Token"] = root.dataset.csrfToken;
    return request;
  },
});
