// tiendo pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // A link to a transition form (#hanh-dong-…) opens that form and moves focus to it.
  function openTarget() {
    var id = decodeURIComponent((location.hash || "").slice(1));
    if (!id) return;
    var el = document.getElementById(id);
    if (el && el.tagName === "DETAILS") {
      el.open = true;
      var first = el.querySelector("textarea, input:not([type=hidden]), button");
      if (first) first.focus();
    }
  }
  document.addEventListener("DOMContentLoaded", openTarget);
  window.addEventListener("hashchange", openTarget);
  // A submitted form's button is disabled while the page loads, so a double click sends once.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.hasAttribute("hx-get")) return;
    var b = form.querySelector("button[type=submit]");
    if (b) {
      setTimeout(function () { b.disabled = true; b.setAttribute("aria-busy", "true"); }, 0);
    }
  });
})();
