/* pbqms: small behaviours shared by every page (no inline scripts: CSP forbids them). */
(function () {
  "use strict";
  // show the global progress bar for every htmx request
  document.addEventListener("htmx:configRequest", function () {});
  document.body.addEventListener("htmx:beforeRequest", function () {
    document.getElementById("pb-progress")?.classList.add("htmx-request");
  });
  document.body.addEventListener("htmx:afterRequest", function () {
    document.getElementById("pb-progress")?.classList.remove("htmx-request");
  });
  // confirm buttons: <button data-confirm="…">
  document.addEventListener("click", function (event) {
    const el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // auto-submit filter forms on change: <form data-autosubmit>
  document.addEventListener("change", function (event) {
    const form = event.target.closest("form[data-autosubmit]");
    if (form && window.htmx) { window.htmx.trigger(form, "submit"); }
  });
})();
