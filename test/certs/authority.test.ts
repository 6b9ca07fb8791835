// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync, webcrypto, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { BUILDER_CERT_LIFETIME_MS } from "../../service/core/builder-credentials.js";
import { builderServerName } from "../../service/core/builder-names.js";
import { http, startTestService } from "../harness/context.js";
import { errorPaths, expectProblem } from "../harness/problems.js";
import { brokerAddress, type BuildBody, clientKey, type Rig, startRig } from "../broker/support.js";

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

const spkiDer = (pem: string) => createPublicKey(pem).export({ type: "spki", format: "der" });

function ekuOf(cert: x509.X509Certificate): string[] {
  return cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String) ?? [];
}

function sanOf(cert: x509.X509Certificate): Array<{ type: string; value: string }> {
  return cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
}

type SigningAlgorithm = Parameters<
  typeof x509.Pkcs10CertificateRequestGenerator.create
>[0]["signingAlgorithm"];

async function csrPem(keys: CryptoKeyPair, algorithm: SigningAlgorithm = P256): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=ci job",
    keys,
    signingAlgorithm: algorithm,
  });
  return csr.toString("pem");
}

const pemOf = (key: { export(o: { type: "spki"; format: "pem" }): string | Buffer }) =>
  key.export({ type: "spki", format: "pem" }) as string;

describe("build client certificates", () => {
  let rig: Rig;
  let account: { id: string; token: string };
  beforeAll(async () => {
    rig = await startRig();
    account = await rig.service.account({ plan: "enterprise" });
  });
  afterAll(async () => {
    await rig.stop();
  });

  const create = (body: Record<string, unknown>) =>
    http<BuildBody>(rig.service.url, "POST", "/api/v1/builds", { token: account.token, body });

  async function builds(): Promise<number> {
    const res = await http<{ builds: unknown[] }>(rig.service.url, "GET", "/api/v1/builds?limit=100", {
      token: account.token,
    });
    return res.body.builds.length;
  }

  it("signs the client's public key: SAN URI naming account and build, clientAuth only, ending at the deadline, from the service CA", async () => {
    const key = clientKey();
    const res = await create({ publicKey: key.publicKeyPem });
    expect(res.status).toBe(201);
    const body = res.body;
    const cert = new x509.X509Certificate(body.certificate!);
    const ca = new x509.X509Certificate(readFileSync(join(rig.caDir, "ca.crt"), "utf8"));

    expect(sanOf(cert)).toEqual([
      { type: "url", value: `remote-builder://account/${account.id}/build/${body.id}` },
    ]);
    expect(ekuOf(cert)).toEqual([CLIENT_AUTH]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const deadline = new Date(body.deadlineAt).getTime();
    // X.509 times have whole seconds: the certificate dies in the second the build does, never after.
    expect(cert.notAfter.getTime()).toBeLessThanOrEqual(deadline);
    expect(cert.notAfter.getTime()).toBeGreaterThan(deadline - 1000);
    expect(cert.notBefore.getTime()).toBeLessThanOrEqual(new Date(body.createdAt).getTime());
    expect(cert.issuer).toBe(ca.subject);
    expect(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(new X509Certificate(body.certificate!).checkIssued(new X509Certificate(ca.toString("pem")))).toBe(
      true,
    );
    // It certifies the very key the client sent.
    expect(spkiDer(cert.publicKey.toString("pem")).equals(spkiDer(key.publicKeyPem))).toBe(true);
    // And the CA the response names is the service's, which the broker trusts.
    expect(body.broker.caCertificate).toBe(rig.service.brokerInfo.caCertificate);
    expect(new x509.X509Certificate(body.broker.caCertificate).subject).toBe(ca.subject);
  });

  it("accepts a certificate request whose signature verifies, and certifies the key inside it", async () => {
    const keys = (await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await csrPem(keys);
    const res = await create({ csr });
    expect(res.status).toBe(201);
    const cert = new x509.X509Certificate(res.body.certificate!);
    const requested = new x509.Pkcs10CertificateRequest(csr);
    expect(Buffer.from(cert.publicKey.rawData).equals(Buffer.from(requested.publicKey.rawData))).toBe(true);
    // The subject is the service's to choose: whatever the request asked for, the SAN is the build's.
    expect(sanOf(cert)).toEqual([
      { type: "url", value: `remote-builder://account/${account.id}/build/${res.body.id}` },
    ]);
    expect(ekuOf(cert)).toEqual([CLIENT_AUTH]);
  });

  it("refuses a forged certificate request (someone else's public key, signed with another key) with 400", async () => {
    const victim = (await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const forger = (await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const forged = await csrPem({ publicKey: victim.publicKey, privateKey: forger.privateKey });
    const before = await builds();
    const res = await create({ csr: forged });
    expectProblem(res, 400, "invalid-request", /The csr has a signature that does not verify/);
    expect(errorPaths(res)).toEqual(["body.csr"]);
    expect(await builds()).toBe(before);
  });

  it("refuses a certificate request whose signature bytes were tampered with, with 400", async () => {
    const keys = (await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(await csrPem(keys)).rawData);
    der[der.length - 1]! ^= 0x01; // the last byte of the signature's s
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const res = await create({ csr: tampered });
    expectProblem(res, 400, "invalid-request", /The csr has a signature that does not verify/);
  });

  it("refuses garbage where a certificate request should be, with 400 saying what it expected", async () => {
    for (const csr of [
      "not a certificate request",
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
      rig.service.brokerInfo.caCertificate, // a certificate, not a request
    ]) {
      const res = await create({ csr });
      expectProblem(
        res,
        400,
        "invalid-request",
        /The csr is not a PEM certificate request \(-----BEGIN CERTIFICATE REQUEST-----\)/,
      );
      expect(errorPaths(res)).toEqual(["body.csr"]);
    }
  });

  it("refuses garbage where a public key should be, with 400", async () => {
    const res = await create({ publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n" });
    expectProblem(res, 400, "invalid-request", /The publicKey is not a PEM public key/);
    expect(errorPaths(res)).toEqual(["body.publicKey"]);
  });

  it("refuses keys it does not sign for (Ed25519, RSA 1024, P-521, secp256k1) with 400 naming the key and what to use", async () => {
    const before = await builds();
    const cases: Array<[string, string, RegExp]> = [
      ["Ed25519", pemOf(generateKeyPairSync("ed25519").publicKey), /is a key of type ed25519/],
      [
        "RSA 1024",
        pemOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey),
        /is an RSA key of 1024 bits, which the service does not sign/,
      ],
      [
        "P-521",
        pemOf(generateKeyPairSync("ec", { namedCurve: "secp521r1" }).publicKey),
        /is an EC key on secp521r1/,
      ],
      [
        "secp256k1",
        pemOf(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey),
        /is an EC key on secp256k1/,
      ],
    ];
    for (const [, publicKey, why] of cases) {
      const res = await create({ publicKey });
      expectProblem(res, 400, "invalid-request", why);
      expect((res.body as { detail?: string }).detail).toMatch(
        /use ECDSA P-256 \(or P-384, or RSA of 2048 bits or more\)/,
      );
      expect(errorPaths(res)).toEqual(["body.publicKey"]);
    }
    expect(await builds()).toBe(before);
  });

  it("refuses an Ed25519 certificate request even though its signature verifies", async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as unknown as CryptoKeyPair; // the overloads for Ed25519 say CryptoKey, but it is a pair
    const res = await create({ csr: await csrPem(keys, { name: "Ed25519" }) });
    expectProblem(res, 400, "invalid-request", /The csr is a key of type ed25519/);
  });

  it("accepts ECDSA P-384 and RSA 2048 public keys", async () => {
    for (const publicKey of [
      pemOf(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey),
      pemOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey),
    ]) {
      const res = await create({ publicKey });
      expect(res.status).toBe(201);
      const cert = new x509.X509Certificate(res.body.certificate!);
      expect(spkiDer(cert.publicKey.toString("pem")).equals(spkiDer(publicKey))).toBe(true);
      await http(rig.service.url, "POST", `/api/v1/builds/${res.body.id}/complete`, {
        token: account.token,
        body: { result: "cancelled" },
      });
    }
  });

  it("refuses publicKey and csr together with 400", async () => {
    const keys = (await webcrypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const res = await create({ publicKey: clientKey().publicKeyPem, csr: await csrPem(keys) });
    expectProblem(res, 400, "invalid-request", /give publicKey or csr, not both/);
  });

  it("never handles a private key: the API has no field for one and no response carries one", async () => {
    const key = clientKey();
    const sent = await create({ publicKey: key.publicKeyPem, privateKey: key.privateKeyPem });
    expectProblem(sent, 400, "invalid-request", /privateKey/);

    const created = await create({ publicKey: key.publicKeyPem });
    expect(created.status).toBe(201);
    const fetched = await http(rig.service.url, "GET", `/api/v1/builds/${created.body.id}`, {
      token: account.token,
    });
    const listed = await http(rig.service.url, "GET", "/api/v1/builds", { token: account.token });
    for (const body of [created.body, fetched.body, listed.body]) {
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/PRIVATE KEY/);
      expect(text).not.toMatch(/"[a-zA-Z]*private[a-zA-Z]*"\s*:/i);
    }
    const openapi = await http<{ components?: unknown; paths: Record<string, unknown> }>(
      rig.service.url,
      "GET",
      "/api/v1/openapi.json",
    );
    expect(JSON.stringify(openapi.body)).not.toMatch(/"privateKey"|PRIVATE KEY/);
  });

  it("gives no certificate to a build that sent no key", async () => {
    const res = await create({});
    expect(res.status).toBe(201);
    expect(res.body.certificate).toBeNull();
  });

  it("gives each builder a server certificate for its own name (not the build's), for a week at most", async () => {
    const res = await create({ publicKey: clientKey().publicKeyPem });
    const ready = await http<BuildBody>(rig.service.url, "GET", `/api/v1/builds/${res.body.id}?wait=5`, {
      token: account.token,
    });
    expect(ready.body.state).toBe("ready");
    const served = rig.specs.get(res.body.id)!;
    const creds = await served.tls();
    const cert = new x509.X509Certificate(creds.certPem);
    expect(served.builderId).not.toBe(res.body.id);
    expect(sanOf(cert)).toEqual([{ type: "dns", value: builderServerName(served.builderId) }]);
    expect(creds.serverName).toBe(builderServerName(served.builderId));
    expect(ekuOf(cert)).toEqual([SERVER_AUTH]);
    expect(cert.notAfter.getTime()).toBeLessThanOrEqual(Date.now() + BUILDER_CERT_LIFETIME_MS);
    expect(cert.notAfter.getTime()).toBeGreaterThan(new Date(res.body.deadlineAt).getTime());
    // The builder trusts the broker's identity alone, never the CA of tenants' certificates.
    expect(creds.caPem).not.toBe(rig.service.brokerInfo.caCertificate);
    expect(new x509.X509Certificate(creds.caPem).subject).toBe("CN=remote-builder broker identity");
  });
});

describe("the service CA and the broker's certificate", () => {
  it("loads the CA from certificate and key files (a Kubernetes Secret), and signs the broker's certificate for its configured names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rb-ca-files-"));
    const { certPem, keyPem } = await CertificateAuthority.create();
    writeFileSync(join(dir, "tls.crt"), certPem);
    writeFileSync(join(dir, "tls.key"), keyPem, { mode: 0o600 });
    const service = await startTestService({
      RB_CA_CERT_FILE: join(dir, "tls.crt"),
      RB_CA_KEY_FILE: join(dir, "tls.key"),
      RB_BROKER_NAMES: "builders.example.com,127.0.0.1",
    });
    try {
      expect(service.brokerInfo.caCertificate).toBe(certPem);
      expect(service.brokerInfo.serverName).toBe("builders.example.com");
      const { host, port } = brokerAddress(service);
      const socket = tls.connect({
        host,
        port,
        servername: "builders.example.com",
        ca: [certPem],
        ALPNProtocols: ["h2"],
      });
      socket.on("error", () => {});
      const peer = await new Promise<X509Certificate>((resolve, reject) =>
        socket.once("secureConnect", () => resolve(socket.getPeerX509Certificate()!)).once("error", reject),
      );
      socket.destroy();
      // The client verified it against the CA from the files (tls.connect rejects otherwise).
      const cert = new x509.X509Certificate(peer.raw);
      expect(sanOf(cert)).toEqual([
        { type: "dns", value: "builders.example.com" },
        { type: "ip", value: "127.0.0.1" },
      ]);
      expect(ekuOf(cert)).toEqual([SERVER_AUTH]);
      expect(peer.checkIssued(new X509Certificate(certPem))).toBe(true);
    } finally {
      await service.stop();
    }
  });

  it("makes an ECDSA P-256 CA in a folder on first use, key readable by its owner only, and reuses it after", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "rb-ca-dir-")), "ca");
    const first = await CertificateAuthority.inFolder(dir);
    expect(statSync(join(dir, "ca.key")).mode & 0o777).toBe(0o600);
    const again = await CertificateAuthority.inFolder(dir);
    expect(again.caPem).toBe(first.caPem);
    const ca = new x509.X509Certificate(first.caPem);
    expect(ca.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(ca.publicKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
  });

  it("never signs past its own expiry", async () => {
    const { authority } = await CertificateAuthority.create();
    const ca = new x509.X509Certificate(authority.caPem);
    const pem = await authority.issueClientCertificate(
      { publicKey: clientKey().publicKeyPem },
      { accountId: "00000000-0000-4000-8000-000000000001", buildId: "00000000-0000-4000-8000-000000000002" },
      ca.notAfter.getTime() + 365 * 86_400_000,
    );
    expect(new x509.X509Certificate(pem).notAfter.getTime()).toBe(ca.notAfter.getTime());
  });
});
