// Tables with DataTables (served by the app from node_modules, never a CDN).
//
// table[data-table="list"]: a whole list in the page, sorted, searched and paged in the
//   browser, with Copy and CSV buttons (columns whose heading has class "no-export", such
//   as actions, are neither sorted, searched nor exported).
// table[data-table="page"]: one page of a table the server pages and sorts (the readings):
//   a Copy button for the page; its own links sort, page and download every row.
// data-name names the CSV file. Without JavaScript the tables are plain tables.
"use strict";

(() => {
  // A cell holding an input exports the value its data-search attribute gives.
  const EXPORTED = { columns: ":not(.no-export)", orthogonal: "search" };

  function listOptions(table) {
    const name = table.dataset.name || "table";
    return {
      pageLength: 25,
      lengthMenu: [10, 25, 100, 500],
      order: [], // the server's order until a heading is clicked
      columnDefs: [{ targets: "no-export", orderable: false, searchable: false }],
      layout: {
        topStart: [
          "pageLength",
          {
            buttons: [
              { extend: "copy", exportOptions: EXPORTED },
              { extend: "csv", filename: name, title: null, exportOptions: EXPORTED },
            ],
          },
        ],
        topEnd: "search",
        bottomStart: "info",
        bottomEnd: "paging",
      },
    };
  }

  function pageOptions() {
    return {
      paging: false,
      searching: false,
      ordering: false,
      info: false,
      layout: { topStart: { buttons: ["copy"] }, topEnd: null, bottomStart: null, bottomEnd: null },
    };
  }

  // A page's "nothing yet" row (one cell spanning the table) becomes DataTables' own
  // message for an empty table: DataTables wants one cell per column in every row.
  function emptyMessage(table) {
    const rows = table.tBodies[0] ? table.tBodies[0].rows : [];
    if (rows.length !== 1 || rows[0].cells.length !== 1 || rows[0].cells[0].colSpan < 2) {
      return null;
    }
    const text = rows[0].cells[0].textContent.trim();
    rows[0].remove();
    return text;
  }

  function start() {
    document.querySelectorAll("table[data-table]").forEach((table) => {
      const options = table.dataset.table === "page" ? pageOptions() : listOptions(table);
      const empty = emptyMessage(table);
      if (empty) {
        options.language = { emptyTable: empty };
      }
      new DataTable(table, options);
      table.dataset.ready = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
