/** The report page's stylesheet and its in-browser script (which draws the charts with uPlot). */
export const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fff; }
main { max-width: 1500px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta, .note { color: #666; font-size: 12.5px; margin: 4px 0; }
.scroll { overflow-x: auto; }
.scroll table { border-collapse: collapse; font-size: 13px; white-space: nowrap; }
.scroll th, .scroll td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
.scroll th { background: #f6f6f6; }
.scroll .num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll td.name { white-space: normal; overflow-wrap: anywhere; min-width: 8em; max-width: 24em; }
.scroll .file { color: #777; font-size: 11.5px; white-space: nowrap; }
.scroll td.words { white-space: normal; min-width: 6em; }
.scroll tr.group td { border-top: 2px solid #ccc; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(560px, 100%), 1fr)); gap: 12px 24px; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(min(420px, 100%), 1fr)); }
figure.chart { margin: 0; min-width: 0; }
figcaption { font-weight: 600; margin: 6px 0 2px; overflow-wrap: anywhere; }
.plot { width: 100%; min-height: 300px; }
.small .plot { min-height: 220px; }
.failed { color: #b00; }
ul.notes { color: #8a5a00; }
.plot .uplot { font-family: inherit; width: auto; max-width: 100%; }
.plot .u-legend { font-size: 12.5px; max-width: 100%; }
.plot .u-legend th { white-space: normal; overflow-wrap: anywhere; text-align: left; font-weight: 500; }
#server-side td.cell { vertical-align: top; }
#server-side .value { font-variant-numeric: tabular-nums; font-weight: 600; }
#server-side .kind, #server-side .range { color: #777; font-size: 11.5px; font-weight: 400; }
#top-statements code { font-size: 12px; white-space: pre-wrap; }
`;

/**
 * The page's own code: reads the embedded data and draws every chart with uPlot. Plain ES5-ish JS, no
 * template literals: it is inlined as it is.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var palette = data.palette;
  function color(run) { return palette[run % palette.length]; }
  function tint(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }
  function fmt(v) {
    if (v == null || !isFinite(v)) return "--";
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  /** x = log10(1/(1-p)) as a percentile: 0 -> 0%, 1 -> 90%, 2 -> 99%, 3 -> 99.9% ... */
  function pctLabel(x) {
    var p = 100 * (1 - Math.pow(10, -x));
    var digits = Math.max(0, Math.ceil(x - 1e-9) - 2);
    if (Math.abs(x - Math.round(x)) > 1e-6) digits = Math.max(1, digits + 1);
    return p.toFixed(digits) + "%";
  }
  function yRange(u, min, max) {
    var lo = Math.min(0, min == null ? 0 : min);
    var hi = max == null || max <= lo ? lo + 1 : max + (max - lo) * 0.08;
    return [lo, hi];
  }
  var axisStyle = { stroke: "#444", grid: { stroke: "#eee", width: 1 }, ticks: { stroke: "#ccc", width: 1 } };
  function axis(extra) {
    var a = {};
    for (var k in axisStyle) a[k] = axisStyle[k];
    for (var j in extra) a[j] = extra[j];
    return a;
  }
  function hasData(values) {
    for (var i = 0; i < values.length; i++) if (values[i] != null) return true;
    return false;
  }

  function lineOptions(c) {
    var percentile = c.xKind === "percentile";
    var xAxis = percentile
      ? axis({
          label: "percentile",
          splits: function (u, i, min, max) {
            var s = [];
            for (var d = 0; d <= Math.floor(max + 1e-9); d++) s.push(d);
            return s;
          },
          values: function (u, splits) { return splits.map(pctLabel); },
        })
      : axis({ label: "seconds since start" });
    return {
      height: 300,
      scales: {
        // time charts start at 0, so that a first interval (and its ramp shading) is seen whole
        x: { time: false, range: percentile ? null : function (u, min, max) { return [Math.min(0, min), max]; } },
        y: { range: yRange },
      },
      axes: [xAxis, axis({ label: c.yLabel, size: 64 })],
      series: [{ label: percentile ? "percentile" : "t (s)", value: function (u, v) {
        return v == null ? "--" : percentile ? pctLabel(v) : v.toFixed(1);
      } }].concat(
        c.series.map(function (s) {
          return {
            label: s.name,
            stroke: color(s.run),
            width: 2,
            dash: s.dash ? [6, 4] : undefined,
            spanGaps: true,
            value: function (u, v) { return fmt(v); },
          };
        }),
      ),
      hooks: {
        drawClear: [
          function (u) {
            if (!c.bands.length) return;
            var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
            var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
            ctx.save();
            c.bands.forEach(function (b) {
              var x0 = Math.max(left, u.valToPos(b.from, "x", true));
              var x1 = Math.min(right, u.valToPos(b.to, "x", true));
              if (!(x1 > x0)) return;
              ctx.fillStyle = tint(color(b.run), 0.13);
              ctx.fillRect(x0, top, x1 - x0, h);
              ctx.fillStyle = tint(color(b.run), 0.9);
              ctx.font = 11 * devicePixelRatio + "px sans-serif";
              ctx.fillText("ramp", x0 + 4 * devicePixelRatio, top + 13 * devicePixelRatio);
            });
            ctx.restore();
          },
        ],
      },
    };
  }

  function barOptions(c) {
    var n = c.groups.length, k = Math.max(1, c.series.length), w = 0.8 / k;
    return {
      height: 300,
      cursor: { points: { show: false } },
      scales: {
        x: { time: false, range: function () { return [-0.5, n - 0.5]; } },
        y: { range: yRange },
      },
      axes: [
        axis({
          label: "op",
          grid: { show: false },
          splits: function () { return c.groups.map(function (_, i) { return i; }); },
          values: function (u, splits) { return splits.map(function (i) { return c.groups[i] || ""; }); },
        }),
        axis({ label: c.yLabel, size: 64 }),
      ],
      series: [{ label: "op", value: function (u, v) { return v == null ? "--" : c.groups[v] || ""; } }].concat(
        c.series.map(function (s, r) {
          return {
            label: s.name,
            stroke: color(s.run),
            fill: color(s.run),
            width: 0,
            points: { show: false },
            value: function (u, v) { return fmt(v); },
            paths: uPlot.paths.bars({
              disp: {
                x0: { unit: 1, values: function () {
                  return c.groups.map(function (_, i) { return i - 0.4 + r * w + w * 0.05; });
                } },
                size: { unit: 1, values: function () { return [w * 0.9]; } },
              },
            }),
          };
        }),
      ),
    };
  }

  var plots = [];
  data.sections.forEach(function (section) {
    section.charts.forEach(function (c) {
      var fig = document.getElementById(c.id);
      var el = fig.querySelector(".plot");
      try {
        var opts = c.type === "bars" ? barOptions(c) : lineOptions(c);
        opts.width = Math.max(320, el.clientWidth);
        opts.height = fig.parentNode.classList.contains("small") ? 220 : 300;
        var x = c.type === "bars" ? c.groups.map(function (_, i) { return i; }) : c.x;
        var rows = [x].concat(c.series.map(function (s) { return s.values; }));
        fig.setAttribute("data-series-colors", c.series.filter(function (s) { return hasData(s.values); })
          .map(function (s) { return color(s.run); }).join(" "));
        plots.push({ el: el, height: opts.height, plot: new uPlot(opts, rows, el) });
      } catch (err) {
        var p = document.createElement("p");
        p.className = "failed";
        p.textContent = "this chart could not be drawn: " + err;
        el.appendChild(p);
        console.error(err);
      }
    });
  });

  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      plots.forEach(function (p) { p.plot.setSize({ width: Math.max(320, p.el.clientWidth), height: p.height }); });
    }, 100);
  });
  document.body.setAttribute("data-charts", String(plots.length));
})();
`;
