// JSON editors: a <textarea data-json-editor="required|optional"> must hold a JSON object
// (or, when optional, nothing). The problem is shown beside it as you type, the form is not
// sent while it stands, and a valid object is tidied (indented) when you leave the field.
// The server checks the same rule (frontend/services/forms.py), so this only saves a trip.
"use strict";

(() => {
  function problemOf(textarea) {
    const text = textarea.value.trim();
    if (!text) {
      return textarea.dataset.jsonEditor === "optional" ? "" : "Enter a JSON object, e.g. {}.";
    }
    let value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return `Not valid JSON: ${error.message}.`;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return "Must be a JSON object ({...}), not a list or a single value.";
    }
    return "";
  }

  function check(textarea) {
    const problem = problemOf(textarea);
    textarea.setCustomValidity(problem);
    textarea.classList.toggle("invalid", problem !== "");
    const target = document.getElementById(textarea.getAttribute("aria-describedby") || "");
    if (target) {
      target.textContent = problem;
    }
    return problem;
  }

  function tidy(textarea) {
    if (textarea.value.trim() && check(textarea) === "") {
      textarea.value = JSON.stringify(JSON.parse(textarea.value), null, 2);
    }
  }

  for (const textarea of document.querySelectorAll("textarea[data-json-editor]")) {
    textarea.addEventListener("input", () => check(textarea));
    textarea.addEventListener("blur", () => tidy(textarea));
    check(textarea);
  }

  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) {
        return;
      }
      for (const textarea of form.querySelectorAll("textarea[data-json-editor]")) {
        if (check(textarea)) {
          event.preventDefault();
          event.stopImmediatePropagation();
          textarea.focus();
          return;
        }
      }
    },
    true,
  );
})();
