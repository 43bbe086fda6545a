// The choosing forms of the data pages: changing the type reloads the form, so that the
// sensors and measures of that type are offered (without JavaScript: press the button).
"use strict";

document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-reload")) {
    return;
  }
  const form = select.form;
  if (!form) {
    return;
  }
  // Only the type and the range carry over: the old sensors belong to another type.
  for (const element of Array.from(form.elements)) {
    if (element !== select && element.name && !["from", "to"].includes(element.name)) {
      element.disabled = true;
    }
  }
  form.submit();
});
