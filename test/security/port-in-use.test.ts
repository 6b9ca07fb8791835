import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { FAKE_BIN, ROOT } from "../harness/action-job.js";
import { ADMIN_TOKEN, freshDatabase, redisUrl, uniqueName } from "../harness/context.js";
import { alive, daemons, killStrays } from "../drivers/support.js";

/**
 * `remote-builder serve` on a port another process holds: it once went on half-started (the
 * broker listening, warm builders up, the reconcile loop running, the API on no port) and
 * ignored SIGTERM. It must say which port, stop what it started, and exit non-zero.
 */
describe("a service whose port is taken", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-port-in-use-"));
  const log = join(work, "buildkitd.jsonl");
  process.env.FAKE_BUILDKITD_LOG = log;
  afterAll(() => {
    killStrays(work);
    rmSync(work, { recursive: true, force: true });
  });

  async function holdPort(): Promise<{ server: Server; port: number }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as { port: number }).port };
  }

  async function serve(
    env: Record<string, string>,
  ): Promise<{ code: number | null; output: string; ms: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, "bin/remote-builder.js"), "serve"], {
      env: {
        PATH: `${FAKE_BIN}:${process.env.PATH}`,
        HOME: process.env.HOME,
        FAKE_BUILDKITD_LOG: log,
        RB_DATABASE_URL: await freshDatabase(),
        RB_REDIS_URL: redisUrl(),
        RB_REDIS_PREFIX: `${uniqueName("rb")}:`,
        RB_ADMIN_TOKEN: ADMIN_TOKEN,
        RB_LOG_LEVEL: "error",
        RB_DRIVER: "local",
        RB_WARM_POOL: '{"small":1}',
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    clearTimeout(timer);
    return { code, output, ms: Date.now() - started };
  }

  it.each([
    ["the API's", "RB_PORT", "RB_BROKER_PORT"],
    ["the broker's", "RB_BROKER_PORT", "RB_PORT"],
  ])(
    "%s port: exits non-zero at once, naming the port, with no builder left running",
    async (_name, taken, free) => {
      const held = await holdPort();
      const dataDir = join(work, taken);
      try {
        const run = await serve({ [taken]: String(held.port), [free]: "0", RB_LOCAL_DIR: dataDir });
        expect(run.code).not.toBe(0);
        expect(run.code).not.toBeNull(); // it exited by itself, not by our SIGKILL
        expect(run.output).toMatch(
          new RegExp(`EADDRINUSE[\\s\\S]*${held.port}|${held.port}[\\s\\S]*EADDRINUSE`),
        );
        expect(daemons(dataDir).filter((d) => alive(d.pid))).toEqual([]);
      } finally {
        held.server.close();
      }
    },
  );
});
