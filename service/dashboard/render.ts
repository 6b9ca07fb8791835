/**
 * The dashboard's HTML, rendered on the server: the whole page is readable without its script,
 * which only keeps the build list live, draws the usage chart and sends resets. The page's data
 * goes to the script in a JSON data block (never executed, so the CSP allows it).
 */
import type { DashboardView, VolumeRow } from "../core/dashboard.js";
import type { TrustRelationship } from "../core/trust.js";
import { BUILD_COLUMNS, buildRowHtml, escapeHtml, formatTime } from "./format.js";

function layout(title: string, body: string, scripts = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/dashboard/app.css">
<link rel="icon" href="data:,">
${scripts}
</head>
<body>
${body}
</body>
</html>
`;
}

/** A page that says what went wrong and what to do, for a person (sign-in refused, session over). */
export function messagePage(title: string, detail: string, problemType?: string): string {
  return layout(
    title,
    `<main class="message">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(detail)}</p>
${problemType ? `<p class="muted"><code>${escapeHtml(problemType)}</code></p>` : ""}
</main>`,
  );
}

export function dashboardPage(view: DashboardView): string {
  const data = JSON.stringify({
    account: view.account.handle,
    usage: view.usage,
    canReset: view.canReset,
  }).replace(/</g, "\\u003c");
  const q = `?account=${encodeURIComponent(view.account.handle)}`;
  return layout(
    `${view.account.handle} · remote-builder`,
    `<header>
<h1>remote-builder · <span id="account">${escapeHtml(view.account.handle)}</span></h1>
<p class="muted">plan ${escapeHtml(view.account.plan)} · ${view.account.concurrencyLimit} concurrent builds · ${view.account.cacheVolumeGiB} GiB cache${view.admin ? " · signed in as admin" : ""}</p>
${view.admin ? picker(view) : ""}
<p id="live" class="muted" data-live="connecting">live updates: connecting…</p>
</header>
<main>
<section id="builds-section">
<h2>Builds</h2>
<table id="builds"><thead><tr>${BUILD_COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>
<tbody>${view.builds.map(buildRowHtml).join("\n")}</tbody></table>
${view.builds.length === 0 ? '<p id="no-builds" class="muted">No builds yet.</p>' : ""}
</section>
<section id="volumes-section">
<h2>Cache volumes</h2>
${volumes(view.volumes, view.canReset, q)}
</section>
<section id="usage-section">
<h2>Usage this month</h2>
<p id="usage-summary">${oneDecimal(view.usage.buildMinutes)} of ${view.usage.quotaMinutes} build minutes · ${oneDecimal(view.usage.storageGiBHours)} GiB-hours of cache storage</p>
<div class="chart"><canvas id="usage-chart" aria-label="Build minutes and storage GiB-hours by day" role="img"></canvas></div>
</section>
<section id="trust-section">
<h2>Trust relationships</h2>
${trust(view.trust, view.admin, q)}
</section>
</main>
<script type="application/json" id="dashboard-data">${data}</script>`,
    '<script src="/dashboard/app.js" defer></script>',
  );
}

const oneDecimal = (n: number) => String(Math.round(n * 10) / 10);

function picker(view: DashboardView): string {
  return `<form id="picker" method="get" action="/dashboard"><label>account <select name="account">${view.accounts
    .map(
      (h) =>
        `<option value="${escapeHtml(h)}"${h === view.account.handle ? " selected" : ""}>${escapeHtml(h)}</option>`,
    )
    .join("")}</select></label> <button type="submit">show</button></form>`;
}

function volumes(rows: VolumeRow[], canReset: boolean, q: string): string {
  if (rows.length === 0) return '<p class="muted">No cache volumes yet: the first build makes one.</p>';
  const note = canReset
    ? ""
    : '<p class="muted">This session comes from a job that may not write the warm cache, so it may not reset it.</p>';
  return `${note}<table id="volumes"><thead><tr><th>name</th><th>size</th><th>node or folder</th><th>last used</th><th></th></tr></thead><tbody>${rows
    .map(
      (v) =>
        `<tr id="volume-${escapeHtml(v.name)}"><td>${escapeHtml(v.name)}</td><td>${v.sizeGiB} GiB</td><td><code>${escapeHtml(
          v.location ?? "—",
        )}</code></td><td>${escapeHtml(formatTime(v.lastUsedAt))}</td><td>${
          canReset
            ? `<button class="reset" data-volume="${escapeHtml(v.name)}" data-action="/dashboard/volumes/${encodeURIComponent(v.name)}/reset${escapeHtml(q)}">reset</button> <span class="reset-status" role="status"></span>`
            : ""
        }</td></tr>`,
    )
    .join("")}</tbody></table>`;
}

function trust(rows: TrustRelationship[], admin: boolean, q: string): string {
  if (rows.length === 0)
    return '<p class="muted">No trust relationships: CI jobs use agent tokens. An admin adds one with <code>remote-builder admin trust add</code>.</p>';
  const head = ["issuer", "owner", "repository", "refs", "cache-write refs", "since", ...(admin ? [""] : [])];
  const body = rows.map((r) => {
    const cells = [
      escapeHtml(r.issuer),
      escapeHtml(r.ownerName ?? r.ownerId),
      escapeHtml(r.repositoryName ?? (r.repositoryId === null ? "every repository" : r.repositoryId)),
      escapeHtml(r.refs.length ? r.refs.join(", ") : "any"),
      escapeHtml(r.cacheWriteRefs.length ? r.cacheWriteRefs.join(", ") : "none"),
      escapeHtml(formatTime(r.createdAt)),
    ];
    if (admin) {
      const action = `/dashboard/trust/${encodeURIComponent(r.id)}/remove${q}`;
      cells.push(`<button class="remove-trust" data-action="${escapeHtml(action)}">remove</button>`);
    }
    return `<tr id="trust-${escapeHtml(r.id)}">${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  });
  const note = admin
    ? ""
    : '<p class="muted">Read-only: the admin changes them (<code>remote-builder admin trust</code>).</p>';
  return `<table id="trust"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${body.join("")}</tbody></table>${note}`;
}

export const DASHBOARD_CSS = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; }
.muted { color: #777; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #8884; white-space: nowrap; }
.state { padding: .05rem .4rem; border-radius: .6rem; background: #8882; }
.state-ready, .state-building { background: #2a72; color: #2a7; }
.state-completed { background: #27a2; }
.state-failed, .state-expired, .state-reaped { background: #c332; color: #c33; }
.chart { position: relative; height: 280px; }
.message { max-width: 40rem; margin: 4rem auto; }
button { cursor: pointer; }
`;
