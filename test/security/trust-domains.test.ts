import "reflect-metadata";
import { generateKeyPairSync } from "node:crypto";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "@jest/globals";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { builderCredentials } from "../../service/core/builder-credentials.js";
import { startEchoBuilder } from "../harness/echo-builder.js";

/**
 * Two trust domains: the service CA signs tenants' client certificates and the broker alone
 * trusts it for clients; builders trust only the broker's identity, a CA of its own derived from
 * the service CA's key, the same on every replica. (test/security/builder-trust.test.ts attacks
 * the same with real buildkitd.)
 */
const clock = { now: () => Date.now() };

async function tenantCertificate(ca: CertificateAuthority): Promise<{ cert: string; key: string }> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const cert = await ca.issueClientCertificate(
    { publicKey: publicKey.export({ type: "spki", format: "pem" }) as string },
    { accountId: "6f1c1f52-54d6-4c4b-9d8c-6a3b7a0f0e10", buildId: "0b6a2f0e-2b1f-4f57-9d7c-1a2b3c4d5e6f" },
    Date.now() + 3_600_000,
  );
  return { cert, key: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
}

/** Dials an echo builder made with `builder`'s credentials; resolves with whether it took the client. */
async function builderTakes(
  ca: CertificateAuthority,
  client: { cert: string; key: string },
): Promise<boolean> {
  const builder = await startEchoBuilder({
    tls: () => builderCredentials(ca, clock).issue("rb-trust0test0"),
  });
  const { port } = new URL(builder.endpoint.replace("tcp:", "http:"));
  try {
    return await new Promise<boolean>((resolve) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: Number(port),
        ca: [ca.caPem],
        servername: "rb-trust0test0.builders.remote-builder.internal",
        ALPNProtocols: ["h2"],
        ...client,
      });
      socket.on("error", () => resolve(false));
      // TLS 1.3: the server's verdict on the client's certificate comes after the client's handshake.
      socket.once("secureConnect", () => socket.write("ping"));
      socket.once("data", () => (socket.destroy(), resolve(true)));
      socket.once("close", () => resolve(false));
    });
  } finally {
    await builder.close();
  }
}

describe("two trust domains", () => {
  it("a builder takes the broker's identity and refuses a tenant's certificate from the service CA", async () => {
    const { authority } = await CertificateAuthority.create();
    const broker = await authority.issueBrokerClient(Date.now() + 3_600_000);
    expect(await builderTakes(authority, { cert: broker.certPem, key: broker.keyPem })).toBe(true);
    expect(await builderTakes(authority, await tenantCertificate(authority))).toBe(false);
  });

  it("every replica of one CA has the same broker identity: a builder one made takes the other's broker", async () => {
    const { certPem, keyPem } = await CertificateAuthority.create();
    const [one, two] = await Promise.all([
      CertificateAuthority.fromPem(certPem, keyPem),
      CertificateAuthority.fromPem(certPem, keyPem),
    ]);
    const identity = (ca: CertificateAuthority) => new x509.X509Certificate(ca.brokerIdentityCaPem);
    expect(identity(one).subject).toBe(identity(two).subject);
    expect(Buffer.from(identity(one).publicKey.rawData)).toEqual(
      Buffer.from(identity(two).publicKey.rawData),
    );
    const fromTwo = await two.issueBrokerClient(Date.now() + 3_600_000);
    expect(await builderTakes(one, { cert: fromTwo.certPem, key: fromTwo.keyPem })).toBe(true);
    // Another service CA is another identity.
    const { authority: other } = await CertificateAuthority.create();
    const stranger = await other.issueBrokerClient(Date.now() + 3_600_000);
    expect(await builderTakes(one, { cert: stranger.certPem, key: stranger.keyPem })).toBe(false);
  });

  it("the broker identity CA is no tenant's issuer, and signs only for signatures (no keyEncipherment)", async () => {
    const { authority } = await CertificateAuthority.create();
    const tenant = new x509.X509Certificate((await tenantCertificate(authority)).cert);
    expect(tenant.issuer).toBe("CN=remote-builder CA");
    const issued = [
      tenant,
      new x509.X509Certificate((await authority.issueBrokerClient(Date.now() + 60_000)).certPem),
      new x509.X509Certificate((await authority.issueServer(["localhost"], Date.now() + 60_000)).certPem),
      new x509.X509Certificate(
        (await authority.issueBuilder("rb-0123456789ab", Date.now() + 60_000)).certPem,
      ),
    ];
    expect(issued.map((c) => c.getExtension(x509.KeyUsagesExtension)!.usages)).toEqual(
      Array(4).fill(x509.KeyUsageFlags.digitalSignature),
    );
  });
});
