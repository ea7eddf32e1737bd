// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Reveal fields that depend on a select's value (data-show-when="field=value").
  function syncDependents(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var parts = el.getAttribute("data-show-when").split("=");
      var control = document.querySelector('[name="' + parts[0] + '"]');
      if (!control) return;
      var show = control.value === parts[1];
      el.hidden = !show;
      el.querySelectorAll("input, textarea, select").forEach(function (input) {
        if (input.hasAttribute("data-required-when-shown")) input.required = show;
      });
    });
  }
  document.addEventListener("change", function () { syncDependents(document); });
  document.addEventListener("DOMContentLoaded", function () { syncDependents(document); });
  document.addEventListener("htmx:afterSwap", function (e) { syncDependents(e.target); });
})();
