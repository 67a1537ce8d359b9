// A small line chart in SVG: energy delivered over a session. No library: operators' networks are
// often closed, and this is all the dashboard needs.
"use strict";

class MeterChart {
  constructor(svg, points) {
    this.svg = svg;
    this.points = points.map(([t, v]) => [new Date(t).getTime(), v]);
    this.render();
  }

  // A sample the chart already has (the page was re-rendered with it) replaces it; a late one
  // goes where its time says, as after a reload.
  add(time, value) {
    const t = new Date(time).getTime();
    const same = this.points.find((p) => p[0] === t);
    if (same) {
      same[1] = value;
    } else {
      this.points.push([t, value]);
      this.points.sort((a, b) => a[0] - b[0]);
    }
    this.render();
  }

  reset(points = []) {
    this.points = points.map(([t, v]) => [new Date(t).getTime(), v]);
    this.render();
  }

  render() {
    const ns = "http://www.w3.org/2000/svg";
    const [width, height, pad] = [960, 260, 44];
    this.svg.replaceChildren();
    this.svg.dataset.points = String(this.points.length);
    const el = (name, attrs, text) => {
      const node = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      this.svg.appendChild(node);
      return node;
    };
    el("line", { x1: pad, y1: height - pad, x2: width - 8, y2: height - pad, class: "axis" });
    el("line", { x1: pad, y1: 8, x2: pad, y2: height - pad, class: "axis" });
    if (this.points.length === 0) {
      el("text", { x: width / 2, y: height / 2, class: "empty", "text-anchor": "middle" }, "No meter values yet");
      return;
    }
    const times = this.points.map((p) => p[0]);
    const values = this.points.map((p) => p[1]);
    const [t0, t1] = [Math.min(...times), Math.max(...times)];
    const top = Math.max(...values, 0.001);
    const x = (t) => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (width - pad - 12);
    const y = (v) => height - pad - (v / top) * (height - pad - 12);
    el("text", { x: pad - 4, y: 14, class: "tick", "text-anchor": "end" }, top.toFixed(2));
    el("text", { x: pad - 4, y: height - pad, class: "tick", "text-anchor": "end" }, "0");
    el("polyline", {
      points: this.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      class: "series",
    });
    const [lt, lv] = this.points[this.points.length - 1];
    el("circle", { cx: x(lt), cy: y(lv), r: 3, class: "series-dot" });
    el("text", { x: x(lt) - 6, y: Math.max(y(lv) - 8, 14), class: "tick", "text-anchor": "end" }, `${lv.toFixed(3)} kWh`);
  }
}

window.MeterChart = MeterChart;
