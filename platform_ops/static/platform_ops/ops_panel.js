// The admin index's two charts (uPlot, vendored): deliveries per minute by result, and the backlog.
(function () {
  "use strict";
  var node = document.getElementById("ops-series");
  if (!node || typeof uPlot === "undefined") { return; }
  var s = JSON.parse(node.textContent);
  var opts = function (title, series) {
    return {
      title: title, width: 520, height: 220,
      series: [{}].concat(series),
      axes: [{}, {}],
      scales: { x: { time: true } },
    };
  };
  window.opsCharts = [
    new uPlot(opts("Deliveries per minute", [
      { label: "delivered (2xx)", stroke: "#2e7d32" },
      { label: "failed (other status)", stroke: "#e65100" },
      { label: "no answer", stroke: "#c62828" },
    ]), [s.t, s.delivered, s.failed, s.errors], document.getElementById("ops-chart-deliveries")),
    new uPlot(opts("Backlog", [
      { label: "pending", stroke: "#1565c0" },
      { label: "in flight", stroke: "#6a1b9a" },
      { label: "dead", stroke: "#c62828" },
    ]), [s.t, s.pending, s.leased, s.dead], document.getElementById("ops-chart-backlog")),
  ];
}());
