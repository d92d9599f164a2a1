// Progressive enhancement only: every page works without this script.
// Filter forms marked data-autosubmit submit when a select changes.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
});
