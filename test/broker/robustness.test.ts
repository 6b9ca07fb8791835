import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import net, { type AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import type { ServedBuilder } from "../doubles/memory-driver.js";
import { freePort } from "../../service/embedded/process.js";
import {
  clientHello,
  dialBuild,
  eventually,
  getBuild,
  metrics,
  rawConnection,
  readyBuild,
  refusalDelta,
  refusals,
  refusalsDuring,
  type Rig,
  roundTrip,
  startRig,
  within,
} from "./support.js";
import { builderTlsOptions } from "../harness/echo-builder.js";

const MiB = 1024 * 1024;
const A_BLOCK = Buffer.alloc(MiB, 0x61);

/** Whether every byte of `chunk` is the echo builder's stream byte, "a". */
function allA(chunk: Buffer): boolean {
  for (let at = 0; at < chunk.length; at += A_BLOCK.length) {
    const piece = chunk.subarray(at, at + A_BLOCK.length);
    if (!piece.equals(A_BLOCK.subarray(0, piece.length))) return false;
  }
  return true;
}

/** The first flight of a real TLS client: a ClientHello, to send half of. */
describe("one bad client never disturbs another", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ env: { RB_BROKER_HANDSHAKE_TIMEOUT_MS: "2000" } });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("carries a 200 MB stream intact while 1,000 garbage and half-open connections hit the broker, then serves a new build", async () => {
    const total = 200 * MiB;
    const hello = await clientHello();
    const account = await rig.service.account({ plan: "team" });
    const build = await readyBuild(rig.service, account);
    const stream = dialBuild(rig.service, build);
    await stream.secure;
    let received = 0;
    let intact = true;
    stream.socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (intact && !allA(chunk)) intact = false;
    });
    const ended = new Promise<void>((resolve) => stream.socket.once("end", resolve));
    stream.socket.write(`stream ${total}\n`);
    expect(await eventually(() => received >= MiB, 10_000)).toBe(true);

    const before = await refusals(rig.service);
    const kinds = ["random bytes", "half a ClientHello", "connect and idle"] as const;
    const garbage = Array.from({ length: 1000 }, (_, i) => {
      const kind = kinds[i % 3]!;
      const bytes =
        kind === "random bytes"
          ? randomBytes(1 + (i % 4096))
          : kind === "half a ClientHello"
            ? hello.subarray(0, hello.length >> 1)
            : null;
      return { kind, ...rawConnection(rig.service, bytes) };
    });
    await Promise.all(
      garbage.map(
        (g) =>
          new Promise<void>((resolve) =>
            g.socket.connecting ? g.socket.once("connect", resolve) : resolve(),
          ),
      ),
    );
    // All 1,000 arrived while the stream was still running.
    expect(received).toBeLessThan(total);

    await within(60_000, ended, "the stream's end");
    expect(received).toBe(total);
    expect(intact).toBe(true);
    expect(stream.socket.destroyed || stream.socket.readableEnded).toBe(true);

    // The broker itself closes every bad connection (garbage at once, the idle ones at the
    // handshake timeout), and counts each one exactly once.
    await within(
      15_000,
      Promise.all(garbage.map((g) => g.closed)),
      "the broker closing 1,000 bad connections",
    );
    expect(await eventually(async () => sum(refusalDelta(before, await refusals(rig.service))) >= 1000)).toBe(
      true,
    );
    const delta = refusalDelta(before, await refusals(rig.service));
    expect(sum(delta)).toBe(1000);
    for (const reason of Object.keys(delta)) {
      expect([
        "plaintext",
        "hello-timeout",
        "handshake-timeout",
        "handshake-failed",
        "too-many-handshakes",
        "too-many-from-source",
      ]).toContain(reason);
    }
    expect(delta["handshake-timeout"]).toBeGreaterThan(0);

    // Still up: a new build, a new connection, an echo.
    const next = await readyBuild(rig.service, account);
    const conn = dialBuild(rig.service, next);
    await conn.secure;
    expect((await roundTrip(conn.socket, "after the storm")).toString()).toBe("after the storm");
    conn.socket.destroy();
    expect(await eventually(async () => (await getBuild(rig.service, build)).bytesOut >= total)).toBe(true);
  });
});

function sum(delta: Record<string, number>): number {
  return Object.values(delta).reduce((a, b) => a + b, 0);
}

describe("the broker's handshake limits", () => {
  let rig: Rig;
  const timeoutMs = 500;
  beforeAll(async () => {
    rig = await startRig({
      env: { RB_BROKER_HANDSHAKE_TIMEOUT_MS: String(timeoutMs), RB_BROKER_MAX_HANDSHAKES: "5" },
    });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("closes a connection that sends nothing once the handshake timeout passes, counted as handshake-timeout", async () => {
    let lasted = 0;
    const delta = await refusalsDuring(rig.service, async () => {
      const opened = Date.now();
      const { closed } = rawConnection(rig.service, null);
      await within(5000, closed, "the broker closing an idle connection");
      lasted = Date.now() - opened;
    });
    expect(delta).toEqual({ "handshake-timeout": 1 });
    expect(lasted).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(lasted).toBeLessThan(timeoutMs + 1000);
  });

  it("closes a connection stuck halfway through its ClientHello at the handshake timeout", async () => {
    const hello = await clientHello();
    const delta = await refusalsDuring(rig.service, async () => {
      const { closed } = rawConnection(rig.service, hello.subarray(0, 40));
      await within(5000, closed, "the broker closing a half-open handshake");
    });
    expect(delta).toEqual({ "handshake-timeout": 1 });
  });

  it("keeps an established connection open when it idles longer than the handshake timeout", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const conn = dialBuild(rig.service, build);
    await conn.secure;
    expect((await roundTrip(conn.socket, "one")).toString()).toBe("one");
    await sleep(timeoutMs * 3);
    expect((await roundTrip(conn.socket, "two")).toString()).toBe("two");
    conn.socket.destroy();
  });

  it("refuses connections beyond the cap on concurrent handshakes at once, counted once each, and recovers", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const before = await refusals(rig.service);
    const idle = Array.from({ length: 5 }, () => rawConnection(rig.service, null));
    await sleep(100); // the broker has taken all five
    const over = rawConnection(rig.service, null);
    const refusedAt = Date.now();
    await within(1000, over.closed, "the broker refusing a connection over the cap");
    expect(Date.now() - refusedAt).toBeLessThan(timeoutMs);
    // While the cap is full, even a good client is turned away: the cap bounds the broker's work.
    const blocked = dialBuild(rig.service, build);
    expect((await within(1000, blocked.closed, "the capped good client")).received).toBe(0);
    expect(refusalDelta(before, await refusals(rig.service))).toEqual({ "too-many-handshakes": 2 });

    await Promise.all(idle.map((c) => within(5000, c.closed, "an idle connection timing out")));
    const conn = dialBuild(rig.service, build);
    await conn.secure;
    expect((await roundTrip(conn.socket, "room again")).toString()).toBe("room again");
    conn.socket.destroy();
    await sleep(100);
    expect(refusalDelta(before, await refusals(rig.service))).toEqual({
      "too-many-handshakes": 2,
      "handshake-timeout": 5,
    });
  });
});

describe("the broker's leg to the builder", () => {
  let rig: Rig;
  const dialTimeoutMs = 500;
  beforeAll(async () => {
    rig = await startRig({ env: { RB_BROKER_DIAL_TIMEOUT_MS: String(dialTimeoutMs) } });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("fails fast when the builder's port is closed: the client is let go, builder-unreachable is counted", async () => {
    rig.endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" })).finally(
      () => (rig.endpoint = null),
    );
    let lasted = 0;
    const delta = await refusalsDuring(rig.service, async () => {
      const conn = dialBuild(rig.service, build);
      await conn.secure;
      const started = Date.now();
      expect((await within(5000, conn.closed, "the broker letting the client go")).received).toBe(0);
      lasted = Date.now() - started;
    });
    expect(delta).toEqual({ "builder-unreachable": 1 });
    expect(lasted).toBeLessThan(dialTimeoutMs);
    // The failed attempt leaves the build as it was (its connect and disconnect recorded in order).
    let state = "";
    await eventually(async () => (state = (await getBuild(rig.service, build)).state) === "ready");
    expect(state).toBe("ready");
  });

  it("gives up after the dial timeout on a builder that accepts TCP but never answers TLS", async () => {
    const silent = net.createServer((s) => s.on("error", () => {}));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    rig.endpoint = `tcp://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" })).finally(
        () => (rig.endpoint = null),
      );
      let lasted = 0;
      const delta = await refusalsDuring(rig.service, async () => {
        const conn = dialBuild(rig.service, build);
        await conn.secure;
        const started = Date.now();
        await within(5000, conn.closed, "the dial timeout");
        lasted = Date.now() - started;
      });
      expect(delta).toEqual({ "builder-unreachable": 1 });
      expect(lasted).toBeGreaterThanOrEqual(dialTimeoutMs - 50);
      expect(lasted).toBeLessThan(dialTimeoutMs + 1000);
    } finally {
      silent.close();
    }
  });

  it("refuses a builder endpoint whose port no socket can have (99999) as no-route, and serves the next build", async () => {
    // tls.connect throws at once for such a port: escaping the connection handler as an unhandled
    // rejection, it would end the whole process.
    rig.endpoint = "tcp://127.0.0.1:99999";
    const account = await rig.service.account({ plan: "team" });
    const broken = await readyBuild(rig.service, account).finally(() => (rig.endpoint = null));
    const delta = await refusalsDuring(rig.service, async () => {
      const refused = dialBuild(rig.service, broken);
      await refused.secure;
      expect((await within(5000, refused.closed, "the broker letting the client go")).received).toBe(0);
    });
    expect(delta).toEqual({ "no-route": 1 });

    const next = await readyBuild(rig.service, account);
    const conn = dialBuild(rig.service, next);
    await conn.secure;
    expect((await roundTrip(conn.socket, "still up")).toString()).toBe("still up");
    conn.socket.destroy();
  });

  it("negotiates h2 with the builder on every connection, as the broker's own client", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const conns = await Promise.all(
      [1, 2, 3, 4, 5].map(async (i) => {
        const conn = dialBuild(rig.service, build);
        await conn.secure;
        expect(conn.socket.alpnProtocol).toBe("h2");
        expect((await roundTrip(conn.socket, `conn ${i}`)).toString()).toBe(`conn ${i}`);
        return conn;
      }),
    );
    const builder = rig.builders.get(build.id)!;
    expect(builder.alpn).toEqual(["h2", "h2", "h2", "h2", "h2"]);
    expect(builder.peers).toEqual(Array(5).fill("URI:remote-builder://broker"));
    for (const c of conns) c.socket.destroy();
  });

  it("records bytes in and out on the build and in the metrics when connections close", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const series = async () => {
      const m = await metrics(rig.service);
      return {
        in: m.get('remote_builder_broker_bytes_total{direction="in"}') ?? 0,
        out: m.get('remote_builder_broker_bytes_total{direction="out"}') ?? 0,
        open: m.get("remote_builder_broker_open_connections") ?? 0,
      };
    };
    const before = await series();
    const first = dialBuild(rig.service, build);
    const second = dialBuild(rig.service, build);
    await Promise.all([first.secure, second.secure]);
    const sent = [randomBytes(300_000), randomBytes(5), randomBytes(70_000)];
    for (const data of sent) expect((await roundTrip(first.socket, data)).equals(data)).toBe(true);
    const streamed = 1_000_000;
    second.socket.write(`stream ${streamed}\n`);
    await within(10_000, second.closed, "the stream's end");
    expect((await series()).open - before.open).toBe(1);
    first.socket.end();
    await first.closed;

    const bytesIn = sent.reduce((n, d) => n + d.length, 0) + `stream ${streamed}\n`.length;
    const bytesOut = sent.reduce((n, d) => n + d.length, 0) + streamed;
    expect(
      await eventually(async () => {
        const b = await getBuild(rig.service, build);
        return b.bytesIn === bytesIn && b.bytesOut === bytesOut;
      }),
    ).toBe(true);
    const after = await series();
    expect({ in: after.in - before.in, out: after.out - before.out, open: after.open - before.open }).toEqual(
      {
        in: bytesIn,
        out: bytesOut,
        open: 0,
      },
    );
  });
});

describe("small messages do not wait (TCP_NODELAY on both legs)", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig.stop();
  });

  const PART = 200;
  const GAP_MS = 5;

  /**
   * A builder that answers only once it has the whole two-part request, and answers in two parts
   * itself: the pattern (a gRPC header frame, then its data frame) that Nagle's algorithm stalls
   * behind a delayed ACK, for about 40 ms on Linux, on any leg without TCP_NODELAY.
   */
  async function twoPartBuilder(spec: ServedBuilder, requestGaps: number[]) {
    const creds = await spec.tls();
    const server = tls.createServer(builderTlsOptions(creds), (socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      let buffered = 0;
      let firstAt = 0;
      socket.on("data", (chunk: Buffer) => {
        if (buffered === 0) firstAt = performance.now();
        buffered += chunk.length;
        if (buffered < 2 * PART) return;
        requestGaps.push(performance.now() - firstAt);
        buffered = 0;
        socket.write(Buffer.alloc(PART, 1));
        setTimeout(() => socket.write(Buffer.alloc(PART, 2)), GAP_MS);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it("forwards the second half of a request and of a reply without waiting for an ACK", async () => {
    const requestGaps: number[] = [];
    const servers: Array<{ close(): Promise<void> }> = [];
    rig.serve = async (spec) => {
      const s = await twoPartBuilder(spec, requestGaps);
      servers.push(s);
      return s;
    };
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" })).finally(
      () => (rig.serve = null),
    );
    const conn = dialBuild(rig.service, build);
    await conn.secure;
    const replyGaps: number[] = [];
    for (let round = 0; round < 40; round++) {
      const reply = new Promise<void>((resolve) => {
        let got = 0;
        let firstAt = 0;
        const onData = (chunk: Buffer) => {
          if (got === 0) firstAt = performance.now();
          got += chunk.length;
          if (got >= 2 * PART) {
            replyGaps.push(performance.now() - firstAt);
            conn.socket.off("data", onData);
            resolve();
          }
        };
        conn.socket.on("data", onData);
      });
      conn.socket.write(Buffer.alloc(PART, 3));
      await sleep(GAP_MS);
      conn.socket.write(Buffer.alloc(PART, 4));
      await within(2000, reply, "a reply");
    }
    conn.socket.destroy();
    await Promise.all(servers.map((s) => s.close()));
    // Skip the first rounds: a fresh TCP connection ACKs at once ("quick ACK" mode).
    const median = (xs: number[]) =>
      [...xs.slice(10)].sort((a, b) => a - b)[Math.floor((xs.length - 10) / 2)]!;
    // Each half leaves GAP_MS after the first; without TCP_NODELAY it waits ~40 ms for the ACK.
    expect(median(requestGaps)).toBeLessThan(GAP_MS + 15);
    expect(median(replyGaps)).toBeLessThan(GAP_MS + 15);
  });
});
