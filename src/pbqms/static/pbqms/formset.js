// Add rows to a Django formset in the page, without saving first.
//   <table data-formset="fields"> … <tbody data-formset-rows> … </tbody></table>
//   <template data-formset-template="fields"> one row of formset.empty_form </template>
//   <button type="button" data-formset-add="fields">…</button>
// The row's "__prefix__" becomes the next form index; TOTAL_FORMS is raised; the button is
// disabled at MAX_NUM_FORMS.
(function () {
  "use strict";
  function update(prefix) {
    const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    const max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    const button = document.querySelector('[data-formset-add="' + prefix + '"]');
    if (button && total && max) {
      button.disabled = parseInt(total.value, 10) >= parseInt(max.value, 10);
    }
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-formset-add]");
    if (!button) return;
    const prefix = button.getAttribute("data-formset-add");
    const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    const template = document.querySelector('template[data-formset-template="' + prefix + '"]');
    const rows = document.querySelector('[data-formset="' + prefix + '"] [data-formset-rows]');
    if (!total || !template || !rows) return;
    const index = parseInt(total.value, 10);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    const added = rows.lastElementChild;
    const first = added && added.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
    update(prefix);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-formset-add]").forEach(function (b) {
      update(b.getAttribute("data-formset-add"));
    });
  });
})();
