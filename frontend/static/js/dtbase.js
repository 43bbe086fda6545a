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

// A button with data-copy="id" copies that element's text (the text stays selectable).
document.addEventListener("click", (event) => {
  const button = event.target;
  if (!(button instanceof HTMLButtonElement) || !button.dataset.copy) {
    return;
  }
  const source = document.getElementById(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      button.textContent = "Copied";
    });
  }
});

// Every password input gets a Show/Hide toggle beside it (added here: without JavaScript
// the input is as it was).
function addPasswordToggles() {
  for (const input of document.querySelectorAll("input[type='password']")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = "Show";
    button.dataset.passwordToggle = "";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", String(show));
    });
    const row = document.createElement("div");
    row.className = "password-row";
    input.replaceWith(row);
    row.append(input, button);
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", addPasswordToggles);
} else {
  addPasswordToggles();
}
