// Starts Swagger UI on /api/docs. A file of its own, not an inline script, so the page keeps
// the portal's Content-Security-Policy (script-src 'self'). Written for bihuan, not vendored.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // no "valid" badge: it would send the spec's address to validator.swagger.io
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
