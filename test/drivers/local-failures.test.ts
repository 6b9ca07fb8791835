import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import { LocalDriver, type LocalDriverOptions } from "../../service/adapters/drivers/local.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { builderCredentials } from "../../service/core/builder-credentials.js";
import { FAKE_BIN } from "../harness/action-job.js";
import type { TestService } from "../harness/context.js";
import {
  alive,
  completeBuild,
  createBuild,
  daemons,
  killStrays,
  readyBuild,
  settle,
  startLocalService,
  until,
} from "./support.js";

const PATH = `${FAKE_BIN}:${process.env.PATH}`;
process.env.PATH = PATH;
const work = mkdtempSync(join(tmpdir(), "rb-local-failures-"));
process.env.FAKE_BUILDKITD_LOG = join(work, "buildkitd.jsonl");

afterEach(() => {
  process.env.PATH = PATH;
  delete process.env.FAKE_BUILDKITD_FAIL;
});

afterAll(() => {
  killStrays(work);
  rmSync(work, { recursive: true, force: true });
});

async function options(overrides: Partial<LocalDriverOptions> = {}): Promise<LocalDriverOptions> {
  const clock = { now: () => Date.now() };
  const { authority } = await CertificateAuthority.create();
  return {
    dataDir: mkdtempSync(join(work, "driver-")),
    credentials: builderCredentials(authority, clock),
    shapes: { small: { cpu: 2, memoryGiB: 4 } },
    clock,
    idleTtlMs: 60_000,
    warmPool: {},
    ...overrides,
  };
}

describe("the local driver without buildkitd or runc", () => {
  it("says where to get buildkitd and runc when RB_BUILDKITD names nothing on PATH", async () => {
    const o = await options({ buildkitd: "no-such-buildkitd" });
    expect(() => new LocalDriver(o)).toThrow(/buildkitd/);
    let message = "";
    try {
      new LocalDriver(o);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("no-such-buildkitd");
    expect(message).toContain("https://github.com/moby/buildkit/releases");
    expect(message).toContain("runc");
  });

  it("names runc when buildkitd is there and runc is not", async () => {
    const bin = mkdtempSync(join(work, "bin-"));
    symlinkSync(join(FAKE_BIN, "buildkitd"), join(bin, "buildkitd"));
    // Only the folder with buildkitd: Debian puts runc in /usr/sbin and links it from /usr/bin.
    process.env.PATH = bin;
    let message = "";
    try {
      new LocalDriver(await options());
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^runc is not on PATH/);
    expect(message).toContain("https://github.com/opencontainers/runc/releases");
  });

  it("refuses to start the service with RB_DRIVER=local and no buildkitd, with the same help", async () => {
    await expect(
      startLocalService(join(work, "no-binary"), { RB_BUILDKITD: "no-such-buildkitd" }),
    ).rejects.toThrow(/no-such-buildkitd[\s\S]*moby\/buildkit\/releases[\s\S]*runc/);
  });

  it("takes RB_BUILDKITD as a path, too, and reads its release", async () => {
    const driver = new LocalDriver(await options({ buildkitd: join(FAKE_BIN, "buildkitd") }));
    expect(driver.version).toBe("v0.11.6");
    await driver.close();
  });
});

describe("a buildkitd that cannot start", () => {
  let service: TestService | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it("fails the build at boot with what buildkitd said, and frees the slot for the next build", async () => {
    const dir = join(work, "boot-fails");
    service = await startLocalService(dir);
    const account = await service.account({ concurrencyLimit: 1 });
    process.env.FAKE_BUILDKITD_FAIL = "failed to create worker: permission denied on /var/lib/buildkit";
    // Several in a row: the reconcile loop (every 100 ms) must not get there first and call it a crash.
    const reasons: Array<string | null> = [];
    for (let i = 0; i < 5; i++) {
      const failed = await settle(service, await createBuild(service, account, { waitSeconds: 10 }));
      expect(failed.state).toBe("failed");
      reasons.push(failed.endReason);
    }
    expect(reasons).toEqual(
      Array(5).fill(
        "boot-failed: buildkitd exited: buildkitd: failed to create worker: permission denied on /var/lib/buildkit",
      ),
    );
    expect(daemons(dir)).toHaveLength(5);
    for (const { pid } of daemons(dir)) expect(alive(pid)).toBe(false);

    delete process.env.FAKE_BUILDKITD_FAIL;
    const next = await readyBuild(service, account, { waitSeconds: 10 });
    expect(next.tier).toBe("cold");
    await completeBuild(service, next);
  });
});

describe("a warm builder that cannot start", () => {
  it("is said at warn in buildkitd's own words, and retried after 1, 2, 4 s… rather than crash-looping", async () => {
    process.env.FAKE_BUILDKITD_FAIL = "flag provided but not defined: -oci-max-parallelism";
    const events: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
    const o = await options({
      warmPool: { small: 1 },
      onEvent: (level, message, fields) => events.push({ level, message, fields }),
    });
    const driver = new LocalDriver(o);
    const started = Date.now();
    await driver.start();
    const failures = () => events.filter((e) => e.message.startsWith("a warm builder failed to start"));
    await until("three failed starts", () => failures().length >= 3, 20_000);
    await driver.close();
    const elapsed = (Date.now() - started) / 1000;

    expect(
      failures().map((e) => [e.level, e.message, e.fields.failuresInARow, e.fields.retryInSeconds]),
    ).toEqual(
      [1, 2, 3].map((n) => [
        "warn",
        "a warm builder failed to start: buildkitd exited: buildkitd: flag provided but not defined: -oci-max-parallelism",
        n,
        2 ** (n - 1),
      ]),
    );
    // Back-off: the third start waited 1 s after the first failure and 2 s after the second.
    expect(elapsed).toBeGreaterThanOrEqual(3);
    expect(daemons(o.dataDir)).toHaveLength(3);
  });

  it("resets its back-off once a warm builder listens", async () => {
    process.env.FAKE_BUILDKITD_FAIL = "failed to create worker";
    const events: string[] = [];
    const o = await options({ warmPool: { small: 1 }, onEvent: (_level, message) => events.push(message) });
    const driver = new LocalDriver(o);
    await driver.start();
    await until("a failed start", () => events.some((m) => m.startsWith("a warm builder failed")));
    delete process.env.FAKE_BUILDKITD_FAIL;
    await until("a warm builder that listens", async () => {
      const live = daemons(o.dataDir).filter((d) => alive(d.pid));
      return live.length === 1 ? live : null;
    });
    expect(events.filter((m) => m.startsWith("a warm builder failed"))).toHaveLength(1);
    await driver.close();
  });
});

describe("the buildkitd release", () => {
  it("refuses a buildkitd older than v0.11, saying which it is and where to get another", async () => {
    const o = await options();
    process.env.FAKE_BUILDKITD_VERSION = "v0.10.6";
    try {
      expect(() => new LocalDriver(o)).toThrow(
        /is BuildKit v0\.10\.6; the local driver needs v0\.11 or newer\.\n[\s\S]*moby\/buildkit\/releases/,
      );
    } finally {
      delete process.env.FAKE_BUILDKITD_VERSION;
    }
  });
});
