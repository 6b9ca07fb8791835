import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { builderServerName } from "../../service/core/builder-names.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { http } from "../harness/context.js";
import {
  type Dialed,
  clientKey,
  dial,
  dialBuild,
  eventually,
  getBuild,
  rawConnection,
  readyBuild,
  refusalsDuring,
  type Rig,
  roundTrip,
  startRig,
  within,
} from "./support.js";

/** Connections every echo builder of the rig has accepted so far. */
const builderConnections = (rig: Rig) => [...rig.builders.values()].reduce((n, b) => n + b.alpn.length, 0);

/** The client was let go: its socket closed, having received nothing from any builder. */
async function expectDisconnected(dialed: Dialed): Promise<void> {
  const outcome = await within(5000, dialed.closed, "the broker closing the connection");
  expect(outcome.received).toBe(0);
}

describe("the broker turns away every connection it must not carry, and counts each by reason", () => {
  let rig: Rig;
  let account: { id: string; token: string };
  beforeAll(async () => {
    rig = await startRig();
    account = await rig.service.account({ plan: "enterprise" });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("refuses plaintext bytes on its TLS port as plaintext", async () => {
    const before = builderConnections(rig);
    let closed: Promise<{ received: number }> | undefined;
    const delta = await refusalsDuring(rig.service, async () => {
      const conn = rawConnection(rig.service, "SSH-2.0-OpenSSH_9.6\r\n");
      closed = conn.closed;
      await within(5000, conn.closed, "the broker closing a plaintext connection");
    });
    expect(delta).toEqual({ plaintext: 1 });
    expect((await closed!).received).toBe(0);
    expect(builderConnections(rig)).toBe(before);
  });

  it("refuses an HTTP request on its TLS port as plaintext", async () => {
    const delta = await refusalsDuring(rig.service, async () => {
      const conn = rawConnection(rig.service, "GET /api/v1/builds HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const { received } = await within(5000, conn.closed, "the broker closing an HTTP connection");
      expect(received).toBe(0);
    });
    expect(delta).toEqual({ plaintext: 1 });
  });

  it("refuses a TLS client that presents no certificate as no-certificate", async () => {
    await readyBuild(rig.service, account);
    const before = builderConnections(rig);
    const delta = await refusalsDuring(rig.service, async () => {
      const dialed = dial(rig.service);
      dialed.socket.on("secureConnect", () => dialed.socket.write("let me in"));
      await expectDisconnected(dialed);
    });
    expect(delta).toEqual({ "no-certificate": 1 });
    expect(builderConnections(rig)).toBe(before);
  });

  it("refuses a certificate signed by another CA for a real build's identity as untrusted", async () => {
    const build = await readyBuild(rig.service, account);
    const { authority: stranger } = await CertificateAuthority.create();
    const cert = await stranger.issueClientCertificate(
      { publicKey: build.key.publicKeyPem },
      { accountId: build.accountId, buildId: build.id },
      Date.now() + 3_600_000,
    );
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert, key: build.key.privateKeyPem })),
    );
    expect(delta).toEqual({ untrusted: 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
    expect((await getBuild(rig.service, build)).state).toBe("ready");
  });

  it("refuses an expired certificate from the service's own CA as expired", async () => {
    const build = await readyBuild(rig.service, account);
    const cert = await rig.ca.issueClientCertificate(
      { publicKey: build.key.publicKeyPem },
      { accountId: build.accountId, buildId: build.id },
      Date.now() - 30_000,
    );
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert, key: build.key.privateKeyPem })),
    );
    expect(delta).toEqual({ expired: 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
  });

  it("refuses a builder's own server certificate used as a client certificate as untrusted", async () => {
    const build = await readyBuild(rig.service, account);
    const builderTls = await rig.specs.get(build.id)!.tls();
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert: builderTls.certPem, key: builderTls.keyPem })),
    );
    expect(delta).toEqual({ untrusted: 1 });
  });

  it("refuses the certificate of a completed build as inactive", async () => {
    const build = await readyBuild(rig.service, account);
    const done = await http(rig.service.url, "POST", `/api/v1/builds/${build.id}/complete`, {
      token: build.token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    let dialed: Dialed | undefined;
    const delta = await refusalsDuring(rig.service, async () => {
      dialed = dialBuild(rig.service, build);
      await dialed.secure; // the certificate itself is still valid: the handshake succeeds
      dialed.socket.write("still there?");
      await expectDisconnected(dialed);
    });
    expect(delta).toEqual({ inactive: 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
  });

  it("refuses a certificate naming another account's build, forged with the service's own CA, as foreign", async () => {
    const mine = await readyBuild(rig.service, account);
    const other = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const forged = await rig.ca.issueClientCertificate(
      { publicKey: mine.key.publicKeyPem },
      { accountId: mine.accountId, buildId: other.id },
      Date.now() + 3_600_000,
    );
    const delta = await refusalsDuring(rig.service, async () => {
      const dialed = dial(rig.service, { cert: forged, key: mine.key.privateKeyPem });
      await dialed.secure;
      dialed.socket.write("hello, other account's builder");
      await expectDisconnected(dialed);
    });
    expect(delta).toEqual({ foreign: 1 });
    expect(rig.builders.get(other.id)!.alpn).toEqual([]);
    expect((await getBuild(rig.service, other)).state).toBe("ready");
  });

  it("refuses a certificate naming a build that does not exist as foreign", async () => {
    const key = clientKey();
    const cert = await rig.ca.issueClientCertificate(
      { publicKey: key.publicKeyPem },
      { accountId: account.id, buildId: "00000000-0000-4000-8000-000000000000" },
      Date.now() + 3_600_000,
    );
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert, key: key.privateKeyPem })),
    );
    expect(delta).toEqual({ foreign: 1 });
  });

  it("refuses a second certificate for the same account and build, not the one the build was given, as superseded", async () => {
    const build = await readyBuild(rig.service, account);
    const key = clientKey();
    const older = await rig.ca.issueClientCertificate(
      { publicKey: key.publicKeyPem },
      { accountId: build.accountId, buildId: build.id },
      Date.now() + 3_600_000,
    );
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert: older, key: key.privateKeyPem })),
    );
    expect(delta).toEqual({ superseded: 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
    // The build's own certificate still gets through.
    const own = dialBuild(rig.service, build);
    await own.secure;
    expect((await roundTrip(own.socket, "ping")).toString()).toBe("ping");
    own.socket.destroy();
  });

  it("refuses the broker's own client certificate as untrusted: its identity's CA is the builders' alone", async () => {
    const brokerClient = await rig.ca.issueBrokerClient(Date.now() + 3_600_000);
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dial(rig.service, { cert: brokerClient.certPem, key: brokerClient.keyPem })),
    );
    expect(delta).toEqual({ untrusted: 1 });
  });

  it("refuses a build whose builder has no address it can dial as no-route", async () => {
    rig.endpoint = "memory://no-such-builder";
    let build;
    try {
      build = await readyBuild(rig.service, account);
    } finally {
      rig.endpoint = null;
    }
    const delta = await refusalsDuring(rig.service, () => expectDisconnected(dialBuild(rig.service, build)));
    expect(delta).toEqual({ "no-route": 1 });
  });

  it("refuses a client that does not offer ALPN h2 at the handshake", async () => {
    const build = await readyBuild(rig.service, account);
    const delta = await refusalsDuring(rig.service, () =>
      expectDisconnected(dialBuild(rig.service, build, { ALPNProtocols: ["http/1.1"] })),
    );
    expect(delta).toEqual({ "handshake-failed": 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
  });
});

describe("the broker refuses builds that ended on their own", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ env: { RB_CLAIM_LEASE_SECONDS: "1", RB_BUILD_DEADLINE_SECONDS: "3" } });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("refuses the certificate of a build reaped for missing heartbeats as inactive", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    expect(await eventually(async () => (await getBuild(rig.service, build)).state === "reaped")).toBe(true);
    const delta = await refusalsDuring(rig.service, () => expectDisconnected(dialBuild(rig.service, build)));
    expect(delta).toEqual({ inactive: 1 });
    expect(rig.builders.get(build.id)!.alpn).toEqual([]);
  });

  it("refuses the certificate of a build that reached its deadline: the certificate died with it", async () => {
    const account = await rig.service.account({ plan: "team" });
    const build = await readyBuild(rig.service, account);
    // A heartbeat that fails (the build it beats for is ending) must not fail the test by itself.
    const heartbeat = setInterval(
      () =>
        void http(rig.service.url, "POST", `/api/v1/builds/${build.id}/heartbeat`, {
          token: build.token,
        }).catch(() => {}),
      250,
    );
    try {
      expect(await eventually(async () => (await getBuild(rig.service, build)).state === "expired")).toBe(
        true,
      );
    } finally {
      clearInterval(heartbeat);
    }
    expect(new Date(build.body.deadlineAt).getTime()).toBeLessThanOrEqual(Date.now());
    const delta = await refusalsDuring(rig.service, () => expectDisconnected(dialBuild(rig.service, build)));
    expect(delta).toEqual({ expired: 1 });
  });
});

describe("an account's certificate never reaches another account's builder", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("routes by the certificate alone: every way account A tries, only A's builder ever sees a connection", async () => {
    const a = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const b = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const builderA = rig.builders.get(a.id)!;
    const builderB = rig.builders.get(b.id)!;

    // A's own certificate, with the client naming B's builder as the server it wants: it lands on A's.
    const own = dialBuild(rig.service, a, {
      servername: builderServerName(rig.specs.get(b.id)!.builderId),
      checkServerIdentity: () => undefined,
    });
    await own.secure;
    expect((await roundTrip(own.socket, `for ${b.id}`)).toString()).toBe(`for ${b.id}`);
    own.socket.destroy();
    expect(builderA.alpn).toHaveLength(1);

    // A's key in a certificate the service's CA signed naming A's account and B's build: foreign.
    const forged = await rig.ca.issueClientCertificate(
      { publicKey: a.key.publicKeyPem },
      { accountId: a.accountId, buildId: b.id },
      Date.now() + 3_600_000,
    );
    // And one naming B's account and B's build, but not the certificate B was given: superseded.
    const impersonation = await rig.ca.issueClientCertificate(
      { publicKey: a.key.publicKeyPem },
      { accountId: b.accountId, buildId: b.id },
      Date.now() + 3_600_000,
    );
    const delta = await refusalsDuring(rig.service, async () => {
      for (const cert of [forged, impersonation]) {
        const dialed = dial(rig.service, { cert, key: a.key.privateKeyPem });
        dialed.socket.on("secureConnect", () => dialed.socket.write("hello B"));
        await expectDisconnected(dialed);
      }
    });
    expect(delta).toEqual({ foreign: 1, superseded: 1 });
    expect(builderB.alpn).toEqual([]);
    expect(builderB.peers).toEqual([]);
    expect((await getBuild(rig.service, b)).bytesIn).toBe(0);

    // B's own certificate reaches B's builder, and the builder only ever sees the broker.
    const bs = dialBuild(rig.service, b);
    await bs.secure;
    expect((await roundTrip(bs.socket, "B here")).toString()).toBe("B here");
    bs.socket.destroy();
    expect(builderB.peers).toHaveLength(1);
    expect(builderB.peers[0]).toBe("URI:remote-builder://broker");
    expect(builderA.alpn).toHaveLength(1);
  });
});
