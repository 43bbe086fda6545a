// dtbase's own progressive JavaScript: every page works without it.
"use strict";

// A form with data-confirm="question" asks before it is sent (e.g. deleting).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) {
    return;
  }
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
