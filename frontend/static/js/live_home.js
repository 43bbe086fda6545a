// The home page, live (events from live.js): a section whose data-refresh-on names an
// event's kind is fetched again from its data-section-url (at most once a second while
// events keep coming), and every event is listed under "Recent activity", newest first.
"use strict";

(() => {
  const REFRESH_MS = 1000;
  const pending = new Map(); // section name -> timer

  function describe(event) {
    const meta = event.meta;
    const list = (values) => [].concat(values || []).join(", ");
    switch (event.kind) {
      case "readings.stored":
        return `${meta.count} reading${meta.count === 1 ? "" : "s"} of ${meta.sensor} (${list(meta.measure)})`;
      case "model_run.stored":
        return `Run ${meta.run} of model ${meta.model}${meta.scenario ? ` (${meta.scenario})` : ""}: ${meta.count} values`;
      case "service_run.finished":
        return `Service ${meta.service} ran: ${meta.status}`;
      case "sensor.created":
      case "sensor.deleted":
        return `Sensor ${meta.sensor} ${event.kind.split(".")[1]}`;
      case "location.created":
      case "location.deleted":
        return `Location ${meta.location} (${meta.schema}) ${event.kind.split(".")[1]}`;
      case "model.created":
      case "model.deleted":
        return `Model ${meta.model} ${event.kind.split(".")[1]}`;
      case "service.created":
      case "service.deleted":
        return `Service ${meta.service} ${event.kind.split(".")[1]}`;
      default:
        return event.kind;
    }
  }

  function list(event) {
    const activity = document.querySelector("[data-activity]");
    if (!activity) {
      return;
    }
    activity.querySelectorAll("[data-activity-empty]").forEach((node) => node.remove());
    const item = document.createElement("li");
    item.dataset.event = String(event.id);
    item.dataset.kind = event.kind;
    const time = document.createElement("time");
    time.dateTime = event.time;
    time.textContent = new Date(event.time).toISOString().slice(0, 19).replace("T", " ");
    item.append(time, document.createTextNode(describe(event)));
    activity.prepend(item);
    const size = Number(activity.dataset.activitySize || 10);
    while (activity.children.length > size) {
      activity.lastElementChild.remove();
    }
  }

  async function refresh(section) {
    const name = section.dataset.section;
    pending.delete(name);
    let response;
    try {
      response = await fetch(section.dataset.sectionUrl, {
        headers: { Accept: "text/html" },
      });
    } catch (error) {
      return; // the next event tries again
    }
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector(`[data-section="${name}"]`);
    const current = document.querySelector(`[data-section="${name}"]`);
    if (fresh && current) {
      current.replaceWith(document.adoptNode(fresh));
    }
  }

  document.addEventListener("dtbase:event", (message) => {
    const event = message.detail;
    list(event);
    if (event.replayed) {
      return; // the sections were read after it
    }
    for (const section of document.querySelectorAll("[data-section][data-refresh-on]")) {
      const name = section.dataset.section;
      if (section.dataset.refreshOn.split(" ").includes(event.kind) && !pending.has(name)) {
        pending.set(name, setTimeout(() => refresh(document.querySelector(`[data-section="${name}"]`)), REFRESH_MS));
      }
    }
  });
})();
