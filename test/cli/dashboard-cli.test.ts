import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN, startTestService, type TestService } from "../harness/context.js";
import { eventually } from "../harness/wait.js";
import { CliJob } from "./cli-job.js";

/** `remote-builder dashboard`: a one-time link from the API, printed, and opened where it can be. */
describe("remote-builder dashboard, the CLI", () => {
  let service: TestService;
  let account: { handle: string; token: string };
  const jobs: CliJob[] = [];
  const dirs: string[] = [];
  const job = (env: Record<string, string>) => {
    const made = new CliJob({ RB_SERVER_URL: service.url, ...env });
    jobs.push(made);
    return made;
  };

  beforeAll(async () => {
    service = await startTestService();
    account = await service.account();
  });
  afterEach(() => {
    for (const made of jobs.splice(0)) made.cleanUp();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  afterAll(() => service?.stop());

  const follow = (url: string) => fetch(url, { redirect: "manual" });

  it("prints a link that signs in once", async () => {
    const run = await job({ RB_TOKEN: account.token }).run(["dashboard", "--no-open"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const [url, note] = run.stdout.trim().split("\n");
    expect(url).toMatch(new RegExp(`^${service.url}/dashboard/sign-in\\?token=rbl_`));
    expect(note).toMatch(/^\(works once, until \d{4}-/);
    expect((await follow(url!)).status).toBe(303);
    expect((await follow(url!)).status).toBe(401);
  });

  it("prints JSON for scripts, and signs the admin in with --admin-token", async () => {
    const run = await job({}).run(["dashboard", "--no-open", "--json", "--admin-token", ADMIN_TOKEN]);
    expect(run.code).toBe(0);
    const link = JSON.parse(run.stdout) as { url: string; path: string; expiresAt: string };
    expect(link.url).toBe(service.url + link.path);
    const signedIn = await follow(link.url);
    const cookie = /rb_dashboard=[^;]+/.exec(signedIn.headers.get("set-cookie") ?? "")![0];
    const page = await fetch(`${service.url}/dashboard?account=${account.handle}`, { headers: { cookie } });
    expect(await page.text()).toContain(`<option value="${account.handle}" selected>`);
  });

  it("opens the link with xdg-open where there is one", async () => {
    const bin = mkdtempSync(join(tmpdir(), "rb-opener-"));
    dirs.push(bin);
    const log = join(bin, "opened");
    writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\necho "$1" > ${log}\n`);
    chmodSync(join(bin, "xdg-open"), 0o755);
    const run = await job({ RB_TOKEN: account.token }).run(["dashboard"], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(run.code).toBe(0);
    await eventually("xdg-open to run", () => existsSync(log), 5000);
    expect(readFileSync(log, "utf8").trim()).toBe(run.stdout.split("\n")[0]);
  });

  it("still prints the link where nothing can open it", async () => {
    const run = await job({ RB_TOKEN: account.token }).run(["dashboard"], {
      PATH: "/nonexistent",
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("/dashboard/sign-in?token=");
  });

  it("says what is wrong with a bad token, and what it takes", async () => {
    const refused = await job({ RB_TOKEN: `rba_${"x".repeat(43)}` }).run(["dashboard", "--no-open"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not a valid agent token/);
    const extra = await job({ RB_TOKEN: account.token }).run(["dashboard", "acme"]);
    expect(extra.code).toBe(2);
    const help = await job({}).run(["dashboard", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: remote-builder dashboard/);
  });
});
