/**
 * The dashboard's script island, bundled with chart.js by esbuild into /dashboard/app.js: keeps the
 * build list live from the server's events, draws the usage chart, and sends volume resets. The
 * page works without it (server-rendered); this only adds what needs a script.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import type { BuildRow, DashboardUsage } from "../../core/dashboard-rows.js";
import { buildRowHtml } from "../format.js";

interface PageData {
  account: string;
  usage: DashboardUsage;
  canReset: boolean;
}

const MAX_ROWS = 100;

function pageData(): PageData {
  const block = document.getElementById("dashboard-data");
  return JSON.parse(block?.textContent ?? "{}") as PageData;
}

function showBuild(row: BuildRow): void {
  const body = document.querySelector<HTMLTableSectionElement>("#builds tbody");
  if (!body) return;
  const template = document.createElement("tbody");
  template.innerHTML = buildRowHtml(row);
  const fresh = template.firstElementChild;
  if (!fresh) return;
  const existing = document.getElementById(`build-${row.id}`);
  if (existing) existing.replaceWith(fresh);
  else body.prepend(fresh);
  document.getElementById("no-builds")?.remove();
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

function setLive(state: string, text: string): void {
  const live = document.getElementById("live");
  if (!live) return;
  live.dataset.live = state;
  live.textContent = `live updates: ${text}`;
}

function listen(account: string): void {
  const source = new EventSource(`/dashboard/events?account=${encodeURIComponent(account)}`);
  source.addEventListener("open", () => setLive("open", "on"));
  source.addEventListener("build", (event) => {
    showBuild(JSON.parse((event as MessageEvent<string>).data) as BuildRow);
  });
  source.addEventListener("signed-out", () => {
    source.close();
    setLive("closed", "the session ended; run `remote-builder dashboard` for a new link");
  });
  // EventSource reconnects on its own after an error; say so meanwhile.
  source.addEventListener("error", () => setLive("reconnecting", "reconnecting…"));
}

function drawUsage(usage: DashboardUsage): void {
  const canvas = document.getElementById("usage-chart");
  if (!(canvas instanceof HTMLCanvasElement)) return;
  Chart.register(
    BarController,
    BarElement,
    CategoryScale,
    LinearScale,
    LineController,
    LineElement,
    PointElement,
    Legend,
    Tooltip,
  );
  // Every day of the month so far, with the cumulative minutes against the plan's quota.
  const days: string[] = [];
  for (let t = usage.from; t < usage.to; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const byDay = new Map(usage.days.map((d) => [d.day, d]));
  let total = 0;
  const cumulative = days.map((d) => (total += byDay.get(d)?.buildMinutes ?? 0));
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: days.map((d) => d.slice(5)),
      datasets: [
        {
          type: "bar",
          label: "build minutes",
          data: days.map((d) => byDay.get(d)?.buildMinutes ?? 0),
          backgroundColor: "#3b82f6",
          yAxisID: "minutes",
        },
        {
          type: "line",
          label: "build minutes this month",
          data: cumulative,
          borderColor: "#1e40af",
          pointRadius: 0,
          yAxisID: "minutes",
        },
        {
          type: "line",
          label: `quota (${usage.quotaMinutes} min)`,
          data: days.map(() => usage.quotaMinutes),
          borderColor: "#dc2626",
          borderDash: [6, 4],
          pointRadius: 0,
          yAxisID: "minutes",
        },
        {
          type: "bar",
          label: "storage GiB-hours",
          data: days.map((d) => byDay.get(d)?.storageGiBHours ?? 0),
          backgroundColor: "#a855f7",
          yAxisID: "storage",
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        minutes: {
          type: "linear",
          position: "left",
          beginAtZero: true,
          title: { display: true, text: "minutes" },
        },
        storage: {
          type: "linear",
          position: "right",
          beginAtZero: true,
          grid: { drawOnChartArea: false },
          title: { display: true, text: "GiB-hours" },
        },
      },
    },
  });
  canvas.dataset.drawn = "true";
}

async function reset(button: HTMLButtonElement): Promise<void> {
  const volume = button.dataset.volume ?? "";
  const status = button.parentElement?.querySelector(".reset-status");
  if (
    !window.confirm(
      `Reset the cache volume "${volume}"? Its data is thrown away; the next build starts cold.`,
    )
  )
    return;
  button.disabled = true;
  try {
    const response = await fetch(button.dataset.action ?? "", {
      method: "POST",
      headers: { "x-dashboard-request": "1" },
      credentials: "same-origin",
    });
    const body = (await response.json()) as { detail?: string };
    if (status)
      status.textContent = response.ok ? "reset: the next build starts cold" : (body.detail ?? "refused");
    button.closest("tr")?.setAttribute("data-reset", response.ok ? "done" : "refused");
  } catch (err) {
    if (status) status.textContent = `not reset: ${String(err)}`;
  } finally {
    button.disabled = false;
  }
}

async function removeTrust(button: HTMLButtonElement): Promise<void> {
  if (!window.confirm("Remove this trust relationship? Credentials it admitted stop working at once."))
    return;
  button.disabled = true;
  const response = await fetch(button.dataset.action ?? "", {
    method: "POST",
    headers: { "x-dashboard-request": "1" },
    credentials: "same-origin",
  });
  const row = button.closest("tr");
  if (response.ok) row?.remove();
  else {
    button.disabled = false;
    row?.setAttribute("data-remove", "refused");
  }
}

function main(): void {
  const data = pageData();
  listen(data.account);
  drawUsage(data.usage);
  for (const button of document.querySelectorAll<HTMLButtonElement>("button.reset")) {
    button.addEventListener("click", () => void reset(button));
  }
  for (const button of document.querySelectorAll<HTMLButtonElement>("button.remove-trust")) {
    button.addEventListener("click", () => void removeTrust(button));
  }
}

main();
