// The upload pages: a preview of the chosen file's first lines, then the form sent with a
// progress bar; the server's answer (an HTML fragment) goes into the page.
"use strict";

const PREVIEW_LINES = 10;
const PREVIEW_BYTES = 64 * 1024;

// One CSV line's fields (RFC 4180 quoting); a quoted field may not span lines here, which
// is enough for a preview.
function csvFields(line) {
  const fields = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}

function megabytes(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

async function showPreview(form, file) {
  const box = form.querySelector("[data-preview]");
  const body = box.querySelector("tbody");
  const note = box.querySelector("[data-preview-note]");
  body.replaceChildren();
  if (!file) {
    box.hidden = true;
    return;
  }
  const head = await file.slice(0, PREVIEW_BYTES).text();
  const lines = head.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/).filter((line) => line !== "");
  const shown = lines.slice(0, PREVIEW_LINES + 1);
  shown.forEach((line, index) => {
    const row = document.createElement("tr");
    const number = document.createElement("th");
    number.scope = "row";
    number.textContent = String(index + 1);
    row.append(number);
    for (const value of csvFields(line)) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    body.append(row);
  });
  note.textContent = `(the first ${shown.length} lines of ${file.name}, ${megabytes(file.size)})`;
  box.hidden = false;
}

function showResult(html) {
  const result = document.querySelector("[data-result]");
  result.innerHTML = html;  // rendered (and escaped) by the server's template
  result.scrollIntoView({ block: "nearest" });
}

function showMessage(text) {
  const box = document.createElement("div");
  box.className = "card upload-result";
  box.dataset.testid = "upload-result";
  const message = document.createElement("p");
  message.className = "field-error";
  message.textContent = text;
  box.append(message);
  document.querySelector("[data-result]").replaceChildren(box);
}

function send(form) {
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) {
    showMessage("Choose a CSV file to upload.");
    return;
  }
  const limit = Number(form.dataset.maxBytes || 0);
  if (limit && file.size > limit) {
    showMessage(`The file is ${megabytes(file.size)}: files up to ${megabytes(limit)} can be uploaded. Split it into smaller files.`);
    return;
  }
  const progress = form.querySelector("[data-progress]");
  const bar = progress.querySelector("progress");
  const text = progress.querySelector("[data-progress-text]");
  const button = form.querySelector("button[type=submit]");
  bar.value = 0;
  text.textContent = "Sending…";
  progress.hidden = false;
  button.disabled = true;

  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      const percent = Math.floor((100 * event.loaded) / event.total);
      bar.value = percent;
      text.textContent = `Sending: ${percent}% of ${megabytes(event.total)}`;
    }
  });
  request.upload.addEventListener("load", () => {
    bar.value = 100;
    text.textContent = "Sent: 100%. Checking and storing the readings…";
  });
  request.addEventListener("load", () => {
    button.disabled = false;
    text.textContent = request.status < 300 ? "Done." : "Nothing was stored: see below.";
    const redirected = request.responseURL && new URL(request.responseURL).pathname !== new URL(form.action).pathname;
    if (redirected) {
      window.location.assign(request.responseURL);  // e.g. the login page: the session ended
    } else if (request.status === 413) {
      showMessage("The file is larger than this site accepts. Split it into smaller files.");
    } else if ((request.getResponseHeader("Content-Type") || "").startsWith("text/html") && request.responseText.includes("upload-result")) {
      showResult(request.responseText);
    } else {
      showMessage(`The upload failed (HTTP ${request.status}). Try again; if it fails again, tell an administrator.`);
    }
  });
  request.addEventListener("error", () => {
    button.disabled = false;
    text.textContent = "";
    showMessage("The upload did not reach the server (the connection failed). Try again.");
  });
  request.send(new FormData(form));
}

for (const form of document.querySelectorAll("form[data-upload]")) {
  const input = form.querySelector("input[type=file]");
  const preview = () => {
    showPreview(form, input.files[0]).catch((error) => showMessage(`The file cannot be read: ${error}`));
  };
  input.addEventListener("change", preview);
  // A file chosen before this deferred script ran (a quick user, or one the browser kept
  // on going back to the page) fired its change event with nobody listening.
  if (input.files.length > 0) {
    preview();
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form);
  });
}
