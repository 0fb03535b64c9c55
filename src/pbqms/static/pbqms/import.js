/* pbqms import page: after a successful import, clear the chosen file so that the same
   file is not imported a second time by another click. */
(function () {
  "use strict";
  document.body.addEventListener("pbqms:import-done", function () {
    const form = document.querySelector("[data-testid=import-form]");
    if (form) { form.reset(); }
  });
})();
