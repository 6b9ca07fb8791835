import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chromium, type Browser, type Page } from "playwright-core";
import { randomUUID } from "node:crypto";
import { PostgresLedgerStore } from "../../service/adapters/postgres/ledger.js";
import { HOUR_MS } from "../../service/core/ledger.js";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { CHROMIUM, chromiumMissing, SCREENSHOTS, screenshotPath, signInLink } from "./support.js";

/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core) against a real
 * service on PostgreSQL and Redis with the memory driver: sign in with a one-time link, watch a
 * build appear and turn ready without a reload, reset a volume, see the usage chart, and refuse a
 * link used twice. Every page is checked for console errors (a CSP violation is one).
 */
const suite = chromiumMissing ? describe.skip : describe;
if (chromiumMissing) console.warn(`dashboard browser tests skipped: ${chromiumMissing}`);

suite("the dashboard in chromium", () => {
  let service: TestService;
  let browser: Browser;
  let account: { handle: string; id: string; token: string };
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // Builders take a moment to boot, so the page sees a build pending before it is ready.
    const driver = new MemoryDriver({ clock: { now: () => Date.now() }, bootMs: 1500 });
    service = await startTestService({}, { driver });
    account = await service.account();
    await seedUsage(service, account.id);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(`${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
    // Requests anywhere but the service would be third-party requests.
    page.on("request", (request) => {
      if (!request.url().startsWith(service.url) && !request.url().startsWith("data:"))
        consoleErrors.push(`third-party request: ${request.url()}`);
    });
    return page;
  }

  async function createBuild(): Promise<string> {
    const res = await http<{ id: string }>(service.url, "POST", "/api/v1/builds", {
      token: account.token,
      body: { shape: "small" },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it("signs in with a link, lists a build that appears and turns ready live, and draws the usage chart", async () => {
    // A finished build first: it makes the cache volume and a day of usage.
    const first = await createBuild();
    await http(service.url, "GET", `/api/v1/builds/${first}?wait=10`, { token: account.token });
    expect(
      (
        await http(service.url, "POST", `/api/v1/builds/${first}/complete`, {
          token: account.token,
          body: { result: "success" },
        })
      ).status,
    ).toBe(200);

    const page = await newPage();
    const response = await page.goto(await signInLink(service.url, account.token));
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/dashboard");
    expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");
    await expect(page.locator("#account").textContent()).resolves.toBe(account.handle);
    await page.locator("#live[data-live=open]").waitFor();
    await expect(page.locator(`#build-${first}`).getAttribute("data-state")).resolves.toBe("completed");

    const second = await createBuild();
    const row = page.locator(`#build-${second}`);
    await row.waitFor({ timeout: 5000 });
    expect(["pending", "queued"]).toContain(await row.getAttribute("data-state"));
    await page.locator(`#build-${second}[data-state=ready]`).waitFor({ timeout: 10_000 });
    await expect(row.locator("td").nth(5).textContent()).resolves.toMatch(/s$/); // time to ready

    await page.locator("#usage-chart[data-drawn=true]").waitFor();
    // Some pixel of the canvas is not transparent: chart.js drew on it (a string: no DOM types here).
    const painted = await page.evaluate<boolean>(`(() => {
      const c = document.getElementById("usage-chart");
      const pixels = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
      return false;
    })()`);
    expect(painted).toBe(true);
    if (SCREENSHOTS) {
      await page.screenshot({ path: screenshotPath("overview"), fullPage: true });
      await page.locator("#builds-section").screenshot({ path: screenshotPath("builds") });
      await page.locator("#usage-section").screenshot({ path: screenshotPath("usage") });
    }
    await complete(second);
    await page.locator(`#build-${second}[data-state=completed]`).waitFor({ timeout: 5000 });
    await page.context().close();
  });

  it("resets a cache volume from the page", async () => {
    const page = await newPage();
    await page.goto(await signInLink(service.url, account.token));
    page.on("dialog", (dialog) => void dialog.accept());
    const volume = page.locator("#volume-buildkit");
    await expect(volume.locator("td").nth(2).textContent()).resolves.toBe("memory");
    if (SCREENSHOTS) await page.locator("#volumes-section").screenshot({ path: screenshotPath("volumes") });
    await volume.locator("button.reset").click();
    await page.locator("#volume-buildkit[data-reset=done]").waitFor();
    if (SCREENSHOTS)
      await page.locator("#volumes-section").screenshot({ path: screenshotPath("volume-reset") });
    const left = await http<{ volumes: unknown[] }>(
      service.url,
      "GET",
      `/api/v1/accounts/${account.handle}/cache-volumes`,
      { token: account.token },
    );
    expect(left.body.volumes).toEqual([]);
    await page.context().close();
  });

  it("lets the admin's link pick any account, and remove its trust relationships", async () => {
    const other = await service.account();
    const relationship = await service.trust.add(other.id, { ownerId: "1001" });
    const page = await newPage();
    await page.goto(await signInLink(service.url));
    await page.locator("#picker select").selectOption(other.handle);
    await page.locator("#picker button").click();
    await page.waitForURL(/account=/);
    await expect(page.locator("#account").textContent()).resolves.toBe(other.handle);
    await page.locator("#usage-chart[data-drawn=true]").waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: screenshotPath("admin"), fullPage: true });
    page.on("dialog", (dialog) => void dialog.accept());
    await page.locator(`#trust-${relationship.id} button.remove-trust`).click();
    await page.locator(`#trust-${relationship.id}`).waitFor({ state: "detached" });
    expect(await service.trust.list(other.id)).toEqual([]);
    await page.context().close();
  });

  it("refuses a link used a second time, with a page that says so", async () => {
    const link = await signInLink(service.url, account.token);
    const first = await newPage();
    expect((await first.goto(link))?.status()).toBe(200);
    await first.context().close();
    const page = await newPage();
    const response = await page.goto(link);
    expect(response?.status()).toBe(401);
    await expect(page.locator("h1").textContent()).resolves.toBe("This sign-in link does not work");
    await expect(page.locator("main").textContent()).resolves.toContain("expired or was already used");
    if (SCREENSHOTS) await page.screenshot({ path: screenshotPath("link-refused") });
    await page.context().close();
    // The refusal page itself logs a 401 for its own load; nothing else may log an error.
    const unexpected = consoleErrors.filter((e) => !e.includes("401"));
    expect(unexpected).toEqual([]);
  });

  it("logs no console errors on any page", () => {
    expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });

  async function complete(id: string): Promise<void> {
    const res = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token: account.token,
      body: { result: "success" },
    });
    expect(res.status).toBe(200);
  }
});

/** Earlier days of this month's usage (build minutes, storage hours), so the chart has bars to draw. */
async function seedUsage(service: TestService, accountId: string): Promise<void> {
  const now = Date.now();
  const today = Math.floor(now / 86_400_000) * 86_400_000;
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const ledger = new PostgresLedgerStore(service.pool);
  for (let day = monthStart, i = 0; day < today; day += 86_400_000, i++) {
    const minutes = 20 + ((i * 37) % 60);
    await ledger.append([
      {
        key: `build:${randomUUID()}`,
        kind: "build",
        accountId,
        buildId: randomUUID(),
        shape: "small",
        startedAt: day + 9 * HOUR_MS,
        endedAt: day + 9 * HOUR_MS + minutes * 60_000,
        quantity: minutes * 60,
        unit: "seconds",
        endReason: "completed",
      },
      {
        key: `storage:${randomUUID()}`,
        kind: "storage",
        accountId,
        volumeId: randomUUID(),
        startedAt: day + 10 * HOUR_MS,
        endedAt: day + 11 * HOUR_MS,
        quantity: 20 + i,
        unit: "gib-hours",
      },
    ]);
  }
}
