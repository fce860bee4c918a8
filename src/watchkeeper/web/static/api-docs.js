/* The /api/docs page: Swagger UI (shipped under /static/vendor/swagger-ui) on this server's
   OpenAPI document. A file of its own because the pages allow no inline script. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("swagger-ui");
    if (!holder || !window.SwaggerUIBundle) return;
    var csrf = document.body.getAttribute("data-csrf") || "";
    holder.textContent = "";
    if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
      document.documentElement.classList.add("dark-mode");  // Swagger UI's own dark theme
    }
    window.SwaggerUIBundle({
      url: holder.getAttribute("data-spec"),
      domNode: holder,
      deepLinking: true,
      validatorUrl: null,  // never send the document to an outside validator
      queryConfigEnabled: false,  // nor load another document named in the address
      defaultModelsExpandDepth: 0,
      requestInterceptor: function (request) {
        // the session cookie goes along (same origin); a write must carry its CSRF token
        if (csrf && !/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) {
          request.headers["X-CSRF-Token"] = csrf;
        }
        return request;
      }
    });
  });
})();
