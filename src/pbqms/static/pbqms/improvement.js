/* pbqms improvement pages: the age chart of "improvement at a glance" and the analysis
   form's method switch. No inline scripts (CSP); data comes from a json_script element. */
(function () {
  "use strict";

  // forms that reload on change (plain GET forms, no htmx)
  document.querySelectorAll("form[data-submit-on-change]").forEach(function (form) {
    form.addEventListener("change", function () { form.submit(); });
  });

  // root cause analysis: show the fields of the chosen method only
  var analysis = document.getElementById("analysis-form");
  if (analysis) {
    var sync = function () {
      var checked = analysis.querySelector("input[name=analysis_method]:checked");
      var method = checked ? checked.value : "five_why";
      analysis.querySelectorAll(".pb-method").forEach(function (fs) {
        fs.hidden = fs.getAttribute("data-method") !== method;
      });
    };
    analysis.addEventListener("change", function (event) {
      if (event.target.name === "analysis_method") { sync(); }
    });
    // one more "why" row when the last visible one is filled
    analysis.addEventListener("input", function (event) {
      var row = event.target.closest(".pb-why");
      if (!row || !event.target.value) { return; }
      var next = row.nextElementSibling;
      if (next && next.classList.contains("pb-why-extra")) { next.classList.remove("pb-why-extra"); }
    });
    sync();
  }

  // improvement at a glance: open nonconformities by age (stacked bars by severity)
  var chartEl = document.getElementById("nc-age-chart");
  var dataEl = document.getElementById("nc-age-chart-data");
  if (chartEl && dataEl && window.echarts) {
    var data = JSON.parse(dataEl.textContent);
    var colours = ["#f76707", "#d63939"];  // minor orange, major red
    var chart = window.echarts.init(chartEl);
    chart.setOption({
      color: colours,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: data.categories },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "age", data: s.data, barMaxWidth: 48 };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
    // a chart drawn in a hidden tab has no size: resize when its tab is shown
    document.addEventListener("shown.bs.tab", function () { chart.resize(); });
  }
})();
