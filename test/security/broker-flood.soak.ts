import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../harness/action-job.js";
import {
  brokerAddress,
  clientHello,
  dialBuild,
  metrics,
  readyBuild,
  type Rig,
  roundTrip,
  startRig,
} from "../broker/support.js";

const rigs: Rig[] = [];
afterAll(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

async function rig(env: Record<string, string> = {}): Promise<Rig> {
  const started = await startRig({ env });
  rigs.push(started);
  return started;
}

/** Milliseconds at the p-th percentile (nearest rank). */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * A latency figure under load: it runs alone, after the suite, with the soak tests
 * (`npm run test:soak`), so that no other test's load is in it.
 */
describe("one source flooding the broker", () => {
  it("holds 1,000 idle and half-sent handshakes for 10 s; another tenant's 200 handshakes all succeed, p99 ≤ 100 ms", async () => {
    const r = await rig();
    const build = await readyBuild(r.service, await r.service.account({ plan: "team" }));
    const hello = await clientHello();
    // The attacker, from 127.0.0.2, in a process of its own: 1,000 connections, half saying
    // nothing, half half a ClientHello; each one the broker drops is opened again a second later.
    const { host, port } = brokerAddress(r.service);
    const flood = execFile(process.execPath, [
      join(ROOT, "test/harness/flood.js"),
      host,
      String(port),
      "127.0.0.2",
      "1000",
      "10",
      hello.toString("hex"),
    ]);
    const flooded = new Promise<{ opened: number }>((resolve) =>
      flood.stdout!.on("data", (line: Buffer) => resolve(JSON.parse(line.toString()) as { opened: number })),
    );
    await sleep(1_000);

    // The tenant, from 127.0.0.1, during the flood: 200 handshakes, one every 35 ms. With 50, the
    // p99 was the slowest one, and one scheduling hiccup of a 2-vCPU machine decided the run.
    const times: number[] = [];
    const failures: string[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const conn = dialBuild(r.service, build);
      try {
        await conn.secure;
        times.push(performance.now() - started);
        expect((await roundTrip(conn.socket, "ping")).toString()).toBe("ping");
      } catch (err) {
        failures.push((err as Error).message);
      } finally {
        conn.socket.destroy();
      }
      await sleep(35);
    }
    const { opened } = await flooded;

    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    process.stdout.write(
      `broker flood: 1,000 held from one source for 10 s (${opened} connections); the other tenant's ${times.length + failures.length} handshakes: ` +
        `${times.length} ok, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms\n`,
    );
    expect(failures).toEqual([]);
    expect(p99).toBeLessThanOrEqual(100);
    // The flood was turned away where it stood: by its source's own cap and the hello timeout.
    const refused = (reason: string) =>
      metrics(r.service).then((m) => m.get(`remote_builder_broker_refusals_total{reason="${reason}"}`) ?? 0);
    expect(await refused("too-many-from-source")).toBeGreaterThan(0);
    expect(await refused("hello-timeout")).toBeGreaterThan(0);
    expect(await refused("too-many-handshakes")).toBe(0);
  }, 60_000);
});
