// Draws the dashboard charts from the JSON in #dashboard-data with Chart.js (served from
// node_modules at /vendor/chart.umd.min.js). Each chart repeats a table printed beside it, so
// without JavaScript nothing is lost. Colours: the Okabe-Ito palette, safe for colour blindness.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

const source = document.getElementById("dashboard-data");
if (source && window.Chart) {
  const charts = JSON.parse(source.textContent);
  for (const spec of charts) {
    const canvas = document.getElementById(`chart-${spec.id}`);
    if (!canvas || spec.labels.length === 0) {
      if (canvas) canvas.closest(".chart-box").hidden = true;
      continue;
    }
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((d, i) => ({
          label: d.label, data: d.data, backgroundColor: COLOURS[i % COLOURS.length],
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: spec.stacked }, y: { stacked: spec.stacked, beginAtZero: true } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }
}
