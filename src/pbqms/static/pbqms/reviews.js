/* pbqms management review: the unit picker of the scheduling form and the small charts of
   the frozen inputs. No inline scripts
   (CSP); data comes from the json_script element "review-charts-data". */
(function () {
  "use strict";
  // scheduling: the people offered depend on the unit reviewed, so choosing another unit
  // reloads the form for it
  var form = document.querySelector("form[data-reload-url]");
  var unit = form && form.querySelector("select[name=org]");
  if (unit) {
    unit.addEventListener("change", function () {
      window.location = form.getAttribute("data-reload-url") + "?org=" + encodeURIComponent(unit.value);
    });
  }

  var dataEl = document.getElementById("review-charts-data");
  if (!dataEl || !window.echarts) { return; }
  var charts = JSON.parse(dataEl.textContent);
  var drawn = [];
  document.querySelectorAll(".pb-review-chart[data-chart]").forEach(function (el) {
    var spec = charts[el.getAttribute("data-chart")];
    if (!spec) { return; }
    if (!el.style.height) { el.style.height = "240px"; }
    var chart = window.echarts.init(el);
    var option;
    if (spec.pie) {
      option = {
        tooltip: { trigger: "item" },
        color: ["#2fb344", "#4299e1", "#f76707", "#d63939"],
        series: [{ type: "pie", radius: ["35%", "62%"], data: spec.pie,
                   label: { show: false } }]
      };
    } else {
      option = {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        color: ["#ae3e3e"],
        grid: { left: 40, right: 12, top: 24, bottom: 48 },
        xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 4 ? 30 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: spec.values, barMaxWidth: 36, label: { show: true, position: "top" } }]
      };
    }
    chart.setOption(option);
    drawn.push(chart);
  });
  var resize = function () { drawn.forEach(function (c) { c.resize(); }); };
  window.addEventListener("resize", resize);
  // a chart drawn in a hidden tab has no size: resize when its tab is shown
  document.addEventListener("shown.bs.tab", resize);
})();
