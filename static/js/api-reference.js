// The API's interactive reference: Swagger UI on the served description (no inline script: CSP).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
    withCredentials: false,
    requestInterceptor: function (req) {
      req.credentials = "omit"; // the API ignores the sign-in cookie: never send it
      return req;
    },
  });
})();
