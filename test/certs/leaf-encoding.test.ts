// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import { describe, expect, it } from "@jest/globals";
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { CertificateAuthority, ipAddressBytes } from "../../service/certs/authority.js";
import * as der from "../../service/certs/der.js";

const P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const tbsOf = (pem: string) => der.children(Buffer.from(new x509.X509Certificate(pem).rawData))[0]!;

/**
 * The certificate @peculiar/x509 writes for what `cert` says (serial, times, key, names, usage),
 * signed by the CA: the reference the service's own DER writer must match byte for byte.
 */
async function referenceTbs(cert: x509.X509Certificate, ca: x509.X509Certificate, caKeyPem: string) {
  const signingKey = await webcrypto.subtle.importKey(
    "pkcs8",
    createPrivateKey(caKeyPem).export({ type: "pkcs8", format: "der" }),
    P256,
    false,
    ["sign"],
  );
  const reference = await x509.X509CertificateGenerator.create({
    serialNumber: cert.serialNumber,
    subject: cert.subject,
    issuer: ca.subject,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    signingAlgorithm: P256,
    publicKey: await cert.publicKey.export(),
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages, false),
      new x509.SubjectAlternativeNameExtension(
        cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(),
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ],
  });
  return tbsOf(reference.toString("pem"));
}

describe("leaf certificates written as DER", () => {
  it("are, but for the signature, what @peculiar/x509 writes: a client certificate for each kind of key", async () => {
    const { authority, certPem, keyPem } = await CertificateAuthority.create();
    const ca = new x509.X509Certificate(certPem);
    const keys = [
      generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey,
      generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey,
      generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey,
    ];
    for (const key of keys) {
      const pem = await authority.issueClientCertificate(
        { publicKey: key.export({ type: "spki", format: "pem" }).toString() },
        {
          accountId: "00000000-0000-4000-8000-000000000001",
          buildId: "00000000-0000-4000-8000-000000000002",
        },
        Date.now() + 3_600_000,
      );
      const cert = new x509.X509Certificate(pem);
      expect(tbsOf(pem).equals(await referenceTbs(cert, ca, keyPem))).toBe(true);
      expect(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
      expect(pem).toBe(cert.toString("pem"));
    }
  });

  it("are what @peculiar/x509 writes for server certificates with DNS names and IPv4 and IPv6 addresses", async () => {
    const { authority, certPem, keyPem } = await CertificateAuthority.create();
    const ca = new x509.X509Certificate(certPem);
    const names = ["builders.example.com", "127.0.0.1", "::1", "fd00::10:1", "2001:db8::", "::ffff:10.0.0.1"];
    const pair = await authority.issueServer(names, Date.now() + 3_600_000);
    const cert = new x509.X509Certificate(pair.certPem);
    expect(tbsOf(pair.certPem).equals(await referenceTbs(cert, ca, keyPem))).toBe(true);
    // The key that comes with it is the one certified.
    const certified = Buffer.from(cert.publicKey.rawData);
    expect(certified.equals(createPublicKey(pair.keyPem).export({ type: "spki", format: "der" }))).toBe(true);
  });

  it("encodes IP addresses as their 4 or 16 bytes", () => {
    const cases: Array<[string, string]> = [
      ["127.0.0.1", "7f000001"],
      ["::", "00000000000000000000000000000000"],
      ["::1", "00000000000000000000000000000001"],
      ["fd00::10:1", "fd000000000000000000000000100001"],
      ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
      ["::ffff:10.0.0.1", "00000000000000000000ffff0a000001"],
    ];
    for (const [ip, hex] of cases) expect(ipAddressBytes(ip).toString("hex")).toBe(hex);
    expect(() => ipAddressBytes("builders.example.com")).toThrow(/not an IP address/);
  });

  it("writes times as UTCTime through 2049 and GeneralizedTime after, in whole seconds", () => {
    expect(der.time(Date.UTC(2026, 11, 4, 5, 10, 15, 999)).toString("latin1")).toBe("\x17\x0d261204051015Z");
    expect(der.time(Date.UTC(2050, 0, 1)).toString("latin1")).toBe("\x18\x0f20500101000000Z");
  });

  it("writes integers in their shortest form, positive", () => {
    expect(der.unsignedInteger(Buffer.from([0, 0, 0x12])).toString("hex")).toBe("020112");
    expect(der.unsignedInteger(Buffer.from([0, 0x80])).toString("hex")).toBe("02020080");
    expect(der.unsignedInteger(Buffer.from([0])).toString("hex")).toBe("020100");
  });
});

describe("the client's public key, as certified", () => {
  const identity = {
    accountId: "00000000-0000-4000-8000-000000000001",
    buildId: "00000000-0000-4000-8000-000000000002",
  };
  const certifiedSpki = (pem: string) => Buffer.from(new x509.X509Certificate(pem).publicKey.rawData);
  const spkiOf = (publicKey: string) => createPublicKey(publicKey).export({ type: "spki", format: "der" });
  const pemOf = (der: Buffer, label = "PUBLIC KEY") =>
    `-----BEGIN ${label}-----\n${der
      .toString("base64")
      .match(/.{1,64}/g)!
      .join("\n")}\n-----END ${label}-----\n`;

  it("is the key the client sent, however its PEM is laid out", async () => {
    const { authority } = await CertificateAuthority.create();
    for (let i = 0; i < 20; i++) {
      const curve = i % 2 === 0 ? "prime256v1" : "secp384r1";
      const pem = generateKeyPairSync("ec", { namedCurve: curve })
        .publicKey.export({ type: "spki", format: "pem" })
        .toString();
      for (const sent of [pem, pem.replace(/\n/g, "\r\n"), `  ${pem.replace(/\n/g, "")}  `]) {
        const cert = await authority.issueClientCertificate(
          { publicKey: sent },
          identity,
          Date.now() + 60_000,
        );
        expect(certifiedSpki(cert).equals(spkiOf(pem))).toBe(true);
      }
    }
  });

  it("is written uncompressed when the client sent a compressed point, as WebCrypto wrote it", async () => {
    const { authority } = await CertificateAuthority.create();
    const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
    const jwk = key.export({ format: "jwk" });
    const y = Buffer.from(jwk.y!, "base64url");
    const x = Buffer.from(jwk.x!, "base64url");
    const prefix = Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex");
    const compressed = Buffer.concat([prefix, Buffer.from([2 + (y[31]! & 1)]), x]);
    const cert = await authority.issueClientCertificate(
      { publicKey: pemOf(compressed) },
      identity,
      Date.now() + 60_000,
    );
    expect(certifiedSpki(cert).equals(key.export({ type: "spki", format: "der" }))).toBe(true);
  });

  it("is refused when its point is not on the curve, or the text holds more than one key", async () => {
    const { authority } = await CertificateAuthority.create();
    const der = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
      type: "spki",
      format: "der",
    });
    const offCurve = Buffer.from(der);
    offCurve[offCurve.length - 1]! ^= 0x01;
    await expect(
      authority.issueClientCertificate({ publicKey: pemOf(offCurve) }, identity, Date.now() + 60_000),
    ).rejects.toThrow(/The publicKey is not a PEM public key/);
    // Two blocks: whatever the service certifies is the first, as OpenSSL reads it.
    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
      type: "spki",
      format: "der",
    });
    const cert = await authority.issueClientCertificate(
      { publicKey: pemOf(der) + pemOf(other) },
      identity,
      Date.now() + 60_000,
    );
    expect(certifiedSpki(cert).equals(der)).toBe(true);
  });
});
