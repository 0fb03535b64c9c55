/* pbqms policy, objectives and processes pages: filters that reload on change, the
   attainment bar chart, the year-over-year trend lines and an indicator's value/target
   bars. No inline scripts (CSP); data comes from json_script elements. */
(function () {
  "use strict";

  document.querySelectorAll("form[data-submit-on-change]").forEach(function (form) {
    form.addEventListener("change", function () { form.submit(); });
  });

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var chart = window.echarts.init(el);
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    document.addEventListener("shown.bs.tab", function () { chart.resize(); });
  }

  var GREEN = "#2fb344", RED = "#d63939", GREY = "#adb5bd";

  var att = data("attainment-chart-data");
  if (att && att.names.length) {
    draw("attainment-chart", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + " %"; } },
      grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: "{value} %" } },
      yAxis: { type: "category", inverse: true, data: att.names,
        axisLabel: { width: 220, overflow: "truncate" } },
      series: [{
        type: "bar", name: att.label, barMaxWidth: 22,
        data: att.attainment.map(function (v, i) {
          var ok = att.attained[i];
          return { value: v, itemStyle: { color: ok === null ? GREY : (ok ? GREEN : RED) } };
        }),
        markLine: { symbol: "none", label: { formatter: att.target_label },
          lineStyle: { color: "#206bc4", type: "dashed" }, data: [{ xAxis: 100 }] }
      }]
    });
  }

  var trend = data("trend-chart-data");
  if (trend && trend.series.length) {
    draw("trend-chart", {
      tooltip: { trigger: "axis",
        valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + " %"; } },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 24, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: trend.years.map(String), boundaryGap: false },
      yAxis: { type: "value", axisLabel: { formatter: "{value} %" } },
      series: trend.series.map(function (s) {
        return { name: s.name, type: "line", data: s.data, connectNulls: true, symbolSize: 8,
          markLine: { symbol: "none", silent: true, lineStyle: { color: "#adb5bd", type: "dashed" },
            label: { show: false }, data: [{ yAxis: 100 }] } };
      })
    });
  }

  var ind = data("indicator-chart-data");
  if (ind && ind.units.length) {
    draw("indicator-chart", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: ind.units,
        axisLabel: { interval: 0, rotate: ind.units.length > 5 ? 30 : 0, width: 120, overflow: "truncate" } },
      yAxis: { type: "value", name: ind.unit },
      series: [
        { name: ind.labels.value, type: "bar", data: ind.values, barMaxWidth: 28, itemStyle: { color: "#206bc4" } },
        { name: ind.labels.target, type: "line", data: ind.targets, symbol: "diamond", symbolSize: 10,
          lineStyle: { type: "dashed" }, itemStyle: { color: RED } }
      ]
    });
  }
})();
