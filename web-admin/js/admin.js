// Switchboard admin portal: the little behaviour the pages need beyond htmx. No inline
// script anywhere (the Content-Security-Policy forbids it); everything is wired by data-*
// attributes here.
(function () {
  "use strict";

  // The narrow layout's navigation drawer.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle]");
    if (toggle) {
      var target = document.getElementById(toggle.getAttribute("data-toggle"));
      if (target) {
        var open = target.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      }
      return;
    }
    var sidebar = document.getElementById("sidebar");
    if (sidebar && sidebar.classList.contains("open") && !sidebar.contains(event.target)) {
      sidebar.classList.remove("open");
    }
  });

  // Buttons and forms that ask first: data-confirm="question".
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // An htmx request whose session ended is answered with HX-Redirect to the login page
  // (htmx follows it); a refused one (403, 4xx) shows its page instead of swapping nothing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 403 || status === 404 || status >= 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      event.detail.target = document.body;
      event.detail.swapOverride = "innerHTML";
    } else if (status === 422 || status === 409) {
      // Forms answer invalid input with the form again, errors next to the fields.
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
