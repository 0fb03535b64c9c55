/* pbqms work plans: the completion chart of a plan (stacked bars per unit) and forms that
   reload on change. No inline scripts (CSP); data comes from a json_script element. */
(function () {
  "use strict";

  document.querySelectorAll("form[data-submit-on-change]").forEach(function (form) {
    form.addEventListener("change", function () { form.submit(); });
  });

  var chartEl = document.getElementById("plan-completion-chart");
  var dataEl = document.getElementById("plan-completion-data");
  if (chartEl && dataEl && window.echarts) {
    var data = JSON.parse(dataEl.textContent);
    var colours = ["#2fb344", "#4299e1", "#d63939"];  // done green, open blue, overdue red
    var chart = window.echarts.init(chartEl);
    var series = [data.done, data.open, data.overdue].map(function (values, i) {
      return {
        name: data.labels[i], type: "bar", stack: "tasks", data: values,
        itemStyle: { color: colours[i] }, barMaxWidth: 28
      };
    });
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.units, inverse: true },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
})();
