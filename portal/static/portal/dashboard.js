// Draws the dashboard's charts from the JSON the page carries (no inline script: CSP).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const label = document.getElementById("chart-labels").dataset;
  const common = { responsive: true, animation: false, maintainAspectRatio: false };
  const days = data.daily.map((d) => d.day.slice(5));
  window.portalCharts = [
    new Chart(document.getElementById("chart-sales"), {
      type: "bar",
      data: {
        labels: days,
        datasets: [
          { label: label.purchases, data: data.daily.map((d) => d.purchases), yAxisID: "y" },
          { label: label.revenue, data: data.daily.map((d) => d.revenue_minor), type: "line", yAxisID: "y1" },
        ],
      },
      options: { ...common, scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
    }),
    new Chart(document.getElementById("chart-points"), {
      type: "line",
      data: {
        labels: days,
        datasets: [
          { label: label.earned, data: data.daily.map((d) => d.points_earned) },
          { label: label.redeemed, data: data.daily.map((d) => d.points_redeemed) },
        ],
      },
      options: { ...common, scales: { y: { beginAtZero: true } } },
    }),
    new Chart(document.getElementById("chart-delivery"), {
      type: "bar",
      data: {
        labels: data.hourly.map((h) => h.hour.slice(11, 16)),
        datasets: [
          { label: label.ok, data: data.hourly.map((h) => h.ok), backgroundColor: "#2e7d32" },
          { label: label.failed, data: data.hourly.map((h) => h.failed), backgroundColor: "#c62828" },
        ],
      },
      options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }),
  ];
  document.body.dataset.charts = String(window.portalCharts.length);
})();
