// A model run's charts (uPlot): the mean line, the shaded 68% and 95% bands, and the
// observed readings of the linked sensor, on one time axis. The data come from the page
// (<script type="application/json" id="run-data">), as frontend/models/charts.py builds it.
"use strict";

(() => {
  const STYLES = {
    upper95: { stroke: "rgba(15, 118, 110, 0.35)", width: 1 },
    lower95: { stroke: "rgba(15, 118, 110, 0.35)", width: 1 },
    upper68: { stroke: "rgba(15, 118, 110, 0.6)", width: 1 },
    lower68: { stroke: "rgba(15, 118, 110, 0.6)", width: 1 },
    mean: { stroke: "#0f766e", width: 2 },
    observed: { stroke: "#c2410c", width: 1.5 },
    line: { stroke: "#175cd3", width: 2 },
  };
  const BANDS = [
    ["upper95", "lower95", "rgba(15, 118, 110, 0.12)"],
    ["upper68", "lower68", "rgba(15, 118, 110, 0.25)"],
  ];

  function chartOptions(chart, width) {
    const series = [{ label: "Time (UTC)" }];
    for (const item of chart.series) {
      const style = STYLES[item.role] || STYLES.line;
      const options = { label: item.label, stroke: style.stroke, width: style.width, spanGaps: true };
      if (item.role === "observed") {
        options.points = { show: false };
      }
      series.push(options);
    }
    const roles = chart.series.map((item) => item.role);
    const bands = [];
    for (const [upper, lower, fill] of BANDS) {
      const high = roles.indexOf(upper);
      const low = roles.indexOf(lower);
      if (high >= 0 && low >= 0) {
        bands.push({ series: [high + 1, low + 1], fill });
      }
    }
    return {
      width,
      height: 340,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      series,
      bands,
      scales: { x: { time: true } },
      axes: [{}, { label: chart.y_label }],
      cursor: { drag: { x: true, y: false } },
    };
  }

  function draw() {
    const source = document.getElementById("run-data");
    if (!source || typeof uPlot === "undefined") {
      return;
    }
    const charts = JSON.parse(source.textContent);
    const drawn = [];
    for (const element of document.querySelectorAll("[data-testid='run-chart']")) {
      const chart = charts[Number(element.dataset.chartIndex)];
      const data = [chart.x, ...chart.series.map((item) => item.values)];
      const plot = new uPlot(chartOptions(chart, element.clientWidth || 800), data, element);
      element.dataset.series = chart.series.map((item) => item.label).join("|");
      element.dataset.points = String(chart.x.length);
      element.dataset.bands = String(plot.bands ? plot.bands.length : 0);
      drawn.push({ title: chart.title, element, plot });
    }
    // For the curious (and the browser tests): the uPlot instances of this page.
    window.dtbaseCharts = drawn;
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        for (const { element, plot } of drawn) {
          plot.setSize({ width: element.clientWidth, height: 340 });
        }
      }, 100);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
