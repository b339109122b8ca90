// A small stacked bar chart in SVG: one bar per time bucket, one segment
// per series. No library: the console needs one chart type.
"use strict";

window.stackedChart = function (points, series, opts) {
  // points: [{t: unix seconds, values: {name: n}}]; series: [{name, label, color}]
  const W = 900, H = 260, L = 48, R = 10, T = 10, B = 28;
  const ns = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = mk("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": (opts && opts.label) || "chart" });
  const totals = points.map(p => series.reduce((s, x) => s + (p.values[x.name] || 0), 0));
  const top = niceMax(Math.max(1, ...totals));
  const plotW = W - L - R, plotH = H - T - B;
  const bw = plotW / Math.max(points.length, 1);
  // Grid and y labels.
  for (let i = 0; i <= 5; i++) {
    const v = top * i / 5, y = T + plotH - plotH * i / 5;
    svg.appendChild(mk("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e3e7ee" }));
    svg.appendChild(mk("text", { x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" }, fmt(v)));
  }
  points.forEach((p, i) => {
    let y = T + plotH;
    const x = L + i * bw + bw * 0.1, w = Math.max(bw * 0.8, 1);
    for (const s of series) {
      const v = p.values[s.name] || 0;
      if (!v) continue;
      const h = plotH * v / top;
      y -= h;
      const r = mk("rect", { x, y, width: w, height: h, fill: s.color, "data-series": s.name, "data-t": p.t });
      r.appendChild(mk("title", {}, `${s.label}: ${v} at ${new Date(p.t * 1000).toLocaleTimeString()}`));
      svg.appendChild(r);
    }
  });
  // x labels: about six.
  const every = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => {
    if (i % every) return;
    const d = new Date(p.t * 1000);
    const label = (opts && opts.hourly) ? `${d.getMonth() + 1}/${d.getDate()} ${pad(d.getHours())}h` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    svg.appendChild(mk("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle", "font-size": 11, fill: "#667085" }, label));
  });
  return svg;

  function pad(n) { return String(n).padStart(2, "0"); }
  function fmt(v) { return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k" : String(Math.round(v)); }
  function niceMax(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
};
