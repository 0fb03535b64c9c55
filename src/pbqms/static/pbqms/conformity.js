// conformity board: the heatmap (units × months) drawn from the json_script data; a click
// on a cell opens its drill-down. Colours match the table view (conformity.css).
(function () {
  "use strict";
  var el = document.getElementById("cf-chart");
  var dataEl = document.getElementById("cf-chart-data");
  if (!el || !dataEl || !window.echarts) { return; }
  var data = JSON.parse(dataEl.textContent);
  var colours = ["#d63939", "#f59f00", "#4299e1", "#b8bec8", "#2fb344", "#e6e7e9"];
  var rows = data.units.length;
  el.style.height = Math.max(320, rows * 26 + 90) + "px";
  var chart = window.echarts.init(el);
  chart.setOption({
    animation: false,
    tooltip: {
      formatter: function (p) {
        return data.units[p.value[1]] + "<br>" + data.months[p.value[0]] + ": " + p.value[3];
      }
    },
    grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
    xAxis: { type: "category", data: data.months, splitArea: { show: true }, position: "top" },
    yAxis: { type: "category", data: data.units, inverse: true, axisLabel: { width: 220, overflow: "truncate" } },
    visualMap: {
      type: "piecewise",
      orient: "horizontal",
      left: "center",
      bottom: 4,
      dimension: 2,
      pieces: data.statuses.map(function (s) {
        return { value: s.code, label: s.label, color: colours[s.code] };
      })
    },
    series: [{
      type: "heatmap",
      data: data.points,
      label: { show: rows <= 25, formatter: function (p) { return p.value[3]; }, fontSize: 10 },
      itemStyle: { borderColor: "#fff", borderWidth: 1 }
    }]
  });
  chart.on("click", function (p) { if (p.value && p.value[4]) { window.location.href = p.value[4]; } });
  window.addEventListener("resize", function () { chart.resize(); });
})();
