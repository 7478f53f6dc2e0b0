/* Kehu's own behaviour in the browser, wired by data- attributes through event delegation.
 *
 * The Content-Security-Policy (finance/headers.py) refuses inline script: no onclick= / onchange= /
 * hx-on attributes in templates. Each behaviour below is switched on by an attribute instead:
 *
 *   <select data-autosubmit>              submits its form when the choice changes
 *   <form data-confirm="Question?">       asks before submitting; Cancel keeps the page as it is
 *   <button data-remove-closest="form">   removes the nearest enclosing element matching the selector
 *   <button data-empty-closest="[data-x]"> empties the nearest enclosing element matching the selector
 *   <div data-swap-status="400">          htmx requests from inside swap responses with these statuses
 *                                         (a form sent back with its errors) instead of dropping them
 */
(function () {
  "use strict";

  function closest(target, selector) {
    return target instanceof Element ? target.closest(selector) : null;
  }

  document.addEventListener("change", function (event) {
    var field = closest(event.target, "[data-autosubmit]");
    if (!field || !field.form) {
      return;
    }
    if (typeof field.form.requestSubmit === "function") {
      field.form.requestSubmit();
    } else {
      field.form.submit();
    }
  });

  // Capture phase: runs before htmx's own submit listener on the form, so Cancel stops both.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var question = form instanceof Element ? form.getAttribute("data-confirm") : null;
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true
  );

  document.addEventListener("click", function (event) {
    var button = closest(event.target, "[data-remove-closest], [data-empty-closest]");
    if (!button) {
      return;
    }
    var removeSelector = button.getAttribute("data-remove-closest");
    if (removeSelector) {
      var removed = button.closest(removeSelector);
      if (removed) {
        removed.remove();
      }
      return;
    }
    var emptied = button.closest(button.getAttribute("data-empty-closest"));
    if (emptied) {
      emptied.replaceChildren();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var zone = closest(event.target, "[data-swap-status]");
    var xhr = event.detail && event.detail.xhr;
    if (!zone || !xhr) {
      return;
    }
    var statuses = zone.getAttribute("data-swap-status").split(/[\s,]+/);
    if (statuses.indexOf(String(xhr.status)) !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
