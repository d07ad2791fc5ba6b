// The team page's charts: every call as a point of handle time against satisfaction and connection
// (a click opens the call), and one agent's weekly scores beside their average handle time.
"use strict";

const data = JSON.parse(document.getElementById("team-data").textContent);
const style = getComputedStyle(document.documentElement);
const colour = (name) => style.getPropertyValue(name).trim();
const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;

const scatterPoints = (quality) => data.calls.filter((c) => c[quality] !== null)
  .map((c) => ({ x: c.handle_time_s, y: c[quality], id: c.id, agent: c.agent_name || c.agent_id || "no agent" }));

new Chart(document.getElementById("scatter"), {
  type: "scatter",
  data: { datasets: [
    { label: "Satisfaction", data: scatterPoints("satisfaction"), backgroundColor: colour("--customer"), pointRadius: 4, pointHoverRadius: 7 },
    { label: "Connection", data: scatterPoints("connection"), backgroundColor: colour("--agent"), pointStyle: "triangle", pointRadius: 4, pointHoverRadius: 7 },
  ] },
  options: {
    animation: false, maintainAspectRatio: false,
    scales: {
      x: { min: 0, title: { display: true, text: "handle time" }, ticks: { callback: clock } },
      y: { min: 0, max: 100, title: { display: true, text: "score" } },
    },
    plugins: { tooltip: { callbacks: {
      label: (item) => `${item.dataset.label} ${item.raw.y.toFixed(0)} · ${clock(item.raw.x)} · ${item.raw.agent}`,
    } } },
    onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
    onClick: (_, elements, chart) => {
      if (elements.length) {
        const { datasetIndex, index } = elements[0];
        window.location.href = "/calls/" + chart.data.datasets[datasetIndex].data[index].id;
      }
    },
  },
});

const trend = new Chart(document.getElementById("trend"), {
  type: "line",
  data: { labels: [], datasets: [
    { label: "Connection", yAxisID: "score", borderColor: colour("--agent"), backgroundColor: colour("--agent"), data: [] },
    { label: "Energy", yAxisID: "score", borderColor: colour("--energy"), backgroundColor: colour("--energy"), data: [] },
    { label: "Satisfaction", yAxisID: "score", borderColor: colour("--customer"), backgroundColor: colour("--customer"), data: [] },
    { label: "Average handle time", yAxisID: "handle", type: "bar", backgroundColor: colour("--handle"), data: [] },
  ] },
  options: {
    animation: false, maintainAspectRatio: false,
    scales: {
      score: { position: "left", min: 0, max: 100, title: { display: true, text: "mean score" } },
      handle: { position: "right", min: 0, grid: { drawOnChartArea: false }, title: { display: true, text: "average handle time" },
                ticks: { callback: clock } },
      x: { title: { display: true, text: "week starting" } },
    },
  },
});

function showAgent(index) {
  const weeks = data.weekly[index] || [];
  trend.data.labels = weeks.map((w) => w.week);
  ["connection", "energy", "satisfaction"].forEach((q, i) => { trend.data.datasets[i].data = weeks.map((w) => w[`mean_${q}`]); });
  trend.data.datasets[3].data = weeks.map((w) => w.average_handle_time_s);
  trend.update();
}

const chooser = document.getElementById("trend-agent");
chooser.addEventListener("change", () => showAgent(Number(chooser.value)));
showAgent(0);
