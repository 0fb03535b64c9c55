/* controlled documents: open and close the rows of the document tree (the first opening
   loads them through htmx; later clicks only show or hide them). No inline scripts (CSP). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest(".pb-tree-toggle");
    if (!button || !button.dataset.loaded) { return; }
    const target = document.querySelector(button.getAttribute("hx-target"));
    if (!target) { return; }
    const open = button.getAttribute("aria-expanded") === "true";
    target.hidden = open;
    button.setAttribute("aria-expanded", open ? "false" : "true");
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    const button = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (button && button.classList && button.classList.contains("pb-tree-toggle")) {
      button.dataset.loaded = "1";
      button.setAttribute("aria-expanded", "true");
    }
  });
})();
