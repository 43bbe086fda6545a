// Time-series charts with uPlot: one chart per measure, one line per sensor.
//
// Each [data-chart] element names its type, measure, sensors and range in data attributes.
// The data come from /timeseries/data, at most one point per pixel (downsampled by the
// backend, with the min/max envelope shaded); zooming (drag across the chart, or the
// buttons) and panning fetch the new window again. Boolean measures are drawn as steps
// between false and true, string measures as a table. "Download CSV" saves exactly the
// data the chart shows. The element's data-points and data-state attributes say what is
// shown (the browser tests read them).
//
// Live (live.js): when new readings of a plotted sensor and measure are stored, the chart
// fetches the span they cover (the event's first to last) and merges it in; a chart whose
// range reaches the present stretches its end to take them. A downsampled chart fetches
// its whole window again instead (its buckets change), at most every few seconds.
"use strict";

(() => {
  const COLORS = ["#0f766e", "#b42318", "#175cd3", "#b54708", "#6941c6", "#067647", "#c11574"];
  const NUMERIC = new Set(["float", "integer"]);
  const HEIGHT = 320;
  const LIVE_DELAY_MS = 300; // readings heard of within this are fetched together
  const LIVE_DOWNSAMPLED_MS = 5000; // a downsampled window is fetched again at most this often

  class Chart {
    constructor(element) {
      this.element = element;
      this.card = element.closest(".chart-card") || element.parentElement;
      this.status = this.card.querySelector("[data-status]");
      this.datatype = element.dataset.datatype;
      this.sensors = JSON.parse(element.dataset.sensors);
      this.range = [Date.parse(element.dataset.from) / 1000, Date.parse(element.dataset.to) / 1000];
      this.window = this.range.slice();
      this.data = null;
      this.plot = null;
      this.request = 0;
      this.settingScale = false;
      this.measureName = JSON.parse(element.dataset.measure)[0];
      // A range that reaches the present (the page's default) follows the new readings.
      this.follows = this.range[1] >= Date.now() / 1000 - 60;
      this.spans = []; // [first, last] of readings stored since, not yet fetched
      this.liveTimer = null;
      this.card.querySelectorAll("[data-action]").forEach((button) => {
        button.addEventListener("click", () => this.act(button.dataset.action));
      });
    }

    width() {
      return Math.max(this.element.clientWidth, 320);
    }

    async load(from, to) {
      const ticket = ++this.request;
      this.window = [from, to];
      this.element.dataset.state = "loading";
      this.say("Loading…");
      let answer;
      try {
        answer = await this.fetchData(from, to);
      } catch (error) {
        if (ticket === this.request) {
          this.element.dataset.state = "error";
          this.say(`Could not load the data: ${error.message}`);
        }
        return;
      }
      if (ticket !== this.request) {
        return; // a newer window was asked for meanwhile
      }
      this.data = answer;
      this.show();
    }

    async fetchData(from, to) {
      const params = new URLSearchParams({
        type: this.element.dataset.type,
        measure: this.element.dataset.measure,
        // Whole milliseconds: (seconds + 0.001) * 1000 may fall a hair short of the next one.
        from: new Date(Math.round(from * 1000)).toISOString(),
        to: new Date(Math.round(to * 1000)).toISOString(),
        points: String(this.points()),
      });
      this.sensors.forEach((sensor) => params.append("sensor", sensor));
      const response = await fetch(`${this.element.dataset.url}?${params}`, {
        headers: { Accept: "application/json" },
      });
      const answer = await response.json();
      if (!response.ok) {
        throw new Error(answer.detail || `The server answered ${response.status}.`);
      }
      return answer;
    }

    points() {
      return Math.min(Math.max(Math.round(this.width()), 2), 10000);
    }

    show() {
      this.draw();
      const [from, to] = this.window;
      const points = this.data.series.reduce((sum, series) => sum + series.t.length, 0);
      this.element.dataset.points = String(points);
      this.element.dataset.downsampled = String(this.data.downsampled);
      this.element.dataset.state = "ready";
      const kind = this.data.downsampled ? "downsampled points" : "readings";
      this.say(`${points} ${kind}, ${formatTime(from)} to ${formatTime(to)} UTC`);
    }

    // A "dtbase:event" from live.js: readings stored for one sensor.
    heard(event) {
      const meta = event.meta;
      if (
        event.kind !== "readings.stored" ||
        event.replayed ||
        !this.sensors.includes(meta.sensor) ||
        ![].concat(meta.measure).includes(this.measureName)
      ) {
        return;
      }
      const first = Date.parse(meta.first) / 1000;
      const last = Date.parse(meta.last) / 1000;
      if (this.follows && last >= this.range[1]) {
        const end = (Math.floor(last / 60) + 1) * 60; // the next minute, as the page's range
        if (this.window[1] === this.range[1]) {
          this.window = [this.window[0], end];
        }
        this.range = [this.range[0], end];
      }
      if (last < this.window[0] || first > this.window[1]) {
        return; // not in the window shown
      }
      this.spans.push([first, last]);
      this.catchUpSoon();
    }

    catchUpSoon() {
      if (this.liveTimer === null) {
        const wait = this.data && this.data.downsampled ? LIVE_DOWNSAMPLED_MS : LIVE_DELAY_MS;
        this.liveTimer = setTimeout(() => this.catchUp(), wait);
      }
    }

    async catchUp() {
      this.liveTimer = null;
      if (!this.data || this.element.dataset.state === "loading") {
        this.catchUpSoon(); // after the window being loaded
        return;
      }
      const spans = this.spans.splice(0);
      if (spans.length === 0) {
        return;
      }
      if (this.data.downsampled) {
        return this.load(this.window[0], this.window[1]); // its buckets change
      }
      // Milliseconds (what Date.parse keeps) round the event's microseconds down: the
      // span's end is widened by one so that its last reading is in.
      const from = Math.max(Math.min(...spans.map((span) => span[0])), this.window[0]);
      const to = Math.min(Math.max(...spans.map((span) => span[1])) + 0.001, this.window[1]);
      const ticket = this.request;
      let answer;
      try {
        answer = await this.fetchData(from, Math.max(to, from + 0.001));
      } catch (error) {
        this.say(`Could not load the new readings: ${error.message}`);
        return;
      }
      if (ticket !== this.request) {
        return; // a newer window is being loaded: it holds them
      }
      if (answer.downsampled || !this.merge(answer, from, to)) {
        return this.load(this.window[0], this.window[1]);
      }
      this.show();
    }

    // The readings fetched for [from, to] in place of those shown there; false when the
    // chart would then hold more points than it has pixels (it is loaded again instead).
    merge(answer, from, to) {
      for (const fresh of answer.series) {
        const shown = this.data.series.find((one) => one.sensor === fresh.sensor);
        if (!shown) {
          continue;
        }
        const low = firstIndex(shown.t, (t) => t >= from);
        const high = firstIndex(shown.t, (t) => t > to);
        for (const column of ["t", "time", "value"]) {
          shown[column].splice(low, high - low, ...fresh[column]);
        }
      }
      return this.data.series.every((one) => one.t.length <= this.points());
    }

    say(text) {
      if (this.status) {
        this.status.textContent = text;
      }
    }

    draw() {
      if (this.plot) {
        this.plot.destroy();
        this.plot = null;
      }
      this.element.querySelectorAll(".chart-table, .chart-empty").forEach((node) => node.remove());
      if (this.data.series.every((series) => series.t.length === 0)) {
        const empty = document.createElement("p");
        empty.className = "muted chart-empty";
        empty.textContent = "No readings in this window.";
        this.element.append(empty);
        return;
      }
      if (this.datatype === "string") {
        this.drawTable();
        return;
      }
      const tables = [];
      const series = [{ label: "Time (UTC)" }];
      const bands = [];
      const envelopes = []; // indexes of the min and max series: out of the legend
      this.data.series.forEach((one, index) => {
        const color = COLORS[index % COLORS.length];
        const values = this.datatype === "boolean" ? one.value.map(booleanNumber) : one.value;
        const table = [one.t, values];
        const line = this.lineSeries(one.sensor, color);
        series.push(line);
        if (one.downsampled && NUMERIC.has(this.datatype)) {
          table.push(one.min, one.max);
          const low = series.length;
          series.push({ label: `${one.sensor} min`, stroke: color, width: 0, points: { show: false } });
          series.push({ label: `${one.sensor} max`, stroke: color, width: 0, points: { show: false } });
          bands.push({ series: [low + 1, low], fill: `${color}22` });
          envelopes.push(low, low + 1);
          // One legend entry per sensor: its value, with the bucket's range beside it.
          line.value = (plot, value, seriesIndex, at) => withRange(plot, value, seriesIndex, at);
        }
        tables.push(table);
      });
      const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      const options = {
        width: this.width(),
        height: HEIGHT,
        series,
        bands,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        scales: { x: { time: true, min: this.window[0], max: this.window[1] } },
        axes: [{}, this.yAxis()],
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        hooks: { setScale: [(plot, key) => this.scaled(plot, key)] },
      };
      if (this.datatype === "boolean") {
        options.scales.y = { range: [-0.2, 1.2] };
      }
      this.settingScale = true;
      this.plot = new uPlot(options, data, this.element);
      this.settingScale = false;
      const entries = this.plot.root.querySelectorAll(".u-legend .u-series");
      envelopes.forEach((index) => entries[index] && entries[index].classList.add("envelope"));
    }

    lineSeries(label, color) {
      const line = { label, stroke: color, width: 1.5, spanGaps: true, points: { show: false } };
      if (this.datatype === "boolean") {
        line.paths = uPlot.paths.stepped({ align: 1 });
        line.value = (plot, value) => (value == null ? "–" : value >= 0.5 ? "true" : "false");
      }
      return line;
    }

    yAxis() {
      if (this.datatype !== "boolean") {
        return { label: this.element.dataset.label, size: 70 };
      }
      return {
        label: this.element.dataset.label,
        size: 70,
        splits: () => [0, 1],
        values: (plot, ticks) => ticks.map((tick) => (tick === 1 ? "true" : tick === 0 ? "false" : "")),
      };
    }

    drawTable() {
      const table = document.createElement("table");
      table.className = "table chart-table";
      const head = table.createTHead().insertRow();
      ["Time (UTC)", "Sensor", "Value"].forEach((title) => {
        const cell = document.createElement("th");
        cell.scope = "col";
        cell.textContent = title;
        head.append(cell);
      });
      const body = table.createTBody();
      for (const row of this.rows()) {
        const line = body.insertRow();
        [row.time.replace("T", " ").replace("Z", ""), row.sensor, String(row.value)].forEach(
          (text) => {
            line.insertCell().textContent = text;
          },
        );
      }
      this.element.append(table);
    }

    // Every point shown, sensor by sensor, oldest first.
    *rows() {
      for (const one of this.data.series) {
        for (let i = 0; i < one.t.length; i++) {
          const row = { time: one.time[i], sensor: one.sensor, value: one.value[i] };
          if (one.downsampled) {
            Object.assign(row, { min: one.min[i], max: one.max[i], count: one.count[i] });
          }
          yield row;
        }
      }
    }

    scaled(plot, key) {
      if (key !== "x" || this.settingScale) {
        return;
      }
      const { min, max } = plot.scales.x;
      if (min == null || max == null || (min === this.window[0] && max === this.window[1])) {
        return;
      }
      clearTimeout(this.pending);
      this.pending = setTimeout(() => this.load(min, max), 150);
    }

    act(action) {
      const [from, to] = this.window;
      const span = to - from;
      const middle = from + span / 2;
      switch (action) {
        case "pan-left":
          return this.load(from - span / 2, to - span / 2);
        case "pan-right":
          return this.load(from + span / 2, to + span / 2);
        case "zoom-in":
          return this.load(middle - span / 4, middle + span / 4);
        case "zoom-out":
          return this.load(middle - span, middle + span);
        case "reset":
          return this.load(this.range[0], this.range[1]);
        case "download":
          return this.download();
        default:
          return undefined;
      }
    }

    download() {
      if (!this.data) {
        return;
      }
      const downsampled = this.data.series.some((one) => one.downsampled);
      const columns = ["timestamp", "sensor", "value"].concat(downsampled ? ["min", "max", "count"] : []);
      const lines = [columns.join(",")];
      for (const row of this.rows()) {
        lines.push(columns.map((column) => csvCell(row[column === "timestamp" ? "time" : column])).join(","));
      }
      const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      const name = this.element.dataset.label.replace(/[^\w.-]+/g, "_");
      link.download = `${name}_${formatTime(this.window[0])}_${formatTime(this.window[1])}.csv`.replace(/[: ]/g, "-");
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    }
  }

  const NUMBER = new Intl.NumberFormat("en", { maximumSignificantDigits: 6 });

  // "20.1 (19.8 – 20.4)": a sensor's value and, from the two series after it, its range.
  function withRange(plot, value, seriesIndex, at) {
    if (value == null) {
      return "–";
    }
    const low = at == null ? null : plot.data[seriesIndex + 1][at];
    const high = at == null ? null : plot.data[seriesIndex + 2][at];
    const shown = NUMBER.format(value);
    return low == null || high == null ? shown : `${shown} (${NUMBER.format(low)} – ${NUMBER.format(high)})`;
  }

  // The first index of the sorted `values` where `test` holds (values.length if none).
  function firstIndex(values, test) {
    let low = 0;
    let high = values.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (test(values[middle])) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    return low;
  }

  function booleanNumber(value) {
    return value == null ? null : value ? 1 : 0;
  }

  function csvCell(value) {
    if (value == null) {
      return "";
    }
    const text = String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function formatTime(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  function start() {
    const charts = Array.from(document.querySelectorAll("[data-chart]"), (element) => new Chart(element));
    charts.forEach((chart) => chart.load(chart.range[0], chart.range[1]));
    document.addEventListener("dtbase:event", (event) => charts.forEach((chart) => chart.heard(event.detail)));
    let resizing;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        charts.forEach((chart) => chart.plot && chart.plot.setSize({ width: chart.width(), height: HEIGHT }));
      }, 200);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
