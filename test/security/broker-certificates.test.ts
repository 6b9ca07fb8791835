import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "@jest/globals";
import { dialBuild, metrics, readyBuild, type Rig, roundTrip, startRig } from "../broker/support.js";

const rigs: Rig[] = [];
afterAll(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

async function rig(env: Record<string, string> = {}): Promise<Rig> {
  const started = await startRig({ env });
  rigs.push(started);
  return started;
}

describe("the broker's own certificates", () => {
  it("started a minute from their expiry, renew in place: new clients are served past that minute, through to the builder", async () => {
    // A lease longer than the wait: the build is still there with no heartbeat.
    const r = await rig({ RB_BROKER_CERT_LIFETIME_SECONDS: "60", RB_CLAIM_LEASE_SECONDS: "600" });
    const build = await readyBuild(r.service, await r.service.account({ plan: "team" }));
    const served = async () => {
      const conn = dialBuild(r.service, build);
      await conn.secure;
      const cert = new X509Certificate(conn.socket.getPeerX509Certificate()!.raw);
      const echoed = (await roundTrip(conn.socket, "ping")).toString();
      conn.socket.destroy();
      return { cert, echoed };
    };
    const expiry = async () =>
      (await metrics(r.service)).get("remote_builder_certificate_expiry_timestamp_seconds")! * 1000;

    const first = await served();
    expect(first.echoed).toBe("ping");
    const firstExpiry = new Date(first.cert.validTo).getTime();
    expect(firstExpiry).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(Math.abs((await expiry()) - firstExpiry)).toBeLessThan(1_000);

    await sleep(Math.max(0, firstExpiry - Date.now()) + 5_000);
    const later = await served();
    expect(later.echoed).toBe("ping");
    expect(later.cert.serialNumber).not.toBe(first.cert.serialNumber);
    expect(new Date(later.cert.validTo).getTime()).toBeGreaterThan(Date.now());
    expect(await expiry()).toBeGreaterThan(Date.now());
  }, 120_000);
});
