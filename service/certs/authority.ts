// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import { createECDH, createHash, createPublicKey, hkdfSync, webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { Problem } from "../core/problems.js";
import { builderServerName } from "../core/builder-names.js";
import { BROKER_URI, type BuildIdentity, buildIdentityUri } from "./identity.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** Certificates start a minute in the past, so a client whose clock is a little behind accepts them. */
const SKEW_MS = 60_000;
const DAY_MS = 86_400_000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ClientKeyRequest {
  /** The client's public key, PEM (SPKI): ECDSA P-256/P-384 or RSA of 2048 bits or more. */
  publicKey?: string | undefined;
  /** Or a PKCS#10 certificate request, PEM; its signature must verify. */
  csr?: string | undefined;
}

/**
 * The service's certificate authority (ECDSA P-256). It signs each build's client certificate,
 * the broker's server certificate, and each builder's server certificate. Private keys of
 * clients never reach it: it signs their public keys.
 *
 * Two trust domains: tenants' certificates come from this CA, which only the broker trusts for
 * clients; builders trust only `brokerIdentity`, a CA of its own that signs nothing but the
 * broker's client certificate. So a tenant's certificate, live or expired, opens no builder.
 */
export class CertificateAuthority {
  private constructor(
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
    /** The issuer of the broker's identity towards builders. */
    readonly brokerIdentity: BrokerIdentityAuthority,
  ) {}

  get caPem(): string {
    return this.cert.toString("pem");
  }

  /** The only CA builders trust for clients: the broker's identity. */
  get brokerIdentityCaPem(): string {
    return this.brokerIdentity.caPem;
  }

  /** When this CA's own certificate expires (ms since the epoch). */
  get notAfter(): number {
    return this.cert.notAfter.getTime();
  }

  static async fromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
    const cert = new x509.X509Certificate(certPem);
    const key = await webcrypto.subtle.importKey("pkcs8", pemBody(keyPem), EC, false, ["sign"]);
    const identity = await BrokerIdentityAuthority.derive(cert, pemBody(keyPem));
    return new CertificateAuthority(cert, key as CryptoKey, identity);
  }

  static async create(now = Date.now()): Promise<{ authority: CertificateAuthority } & KeyPairPem> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: "CN=remote-builder CA",
      notBefore: new Date(now - SKEW_MS),
      notAfter: new Date(now + 3650 * DAY_MS),
      signingAlgorithm: EC,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyPem = await keyToPem(keys.privateKey);
    return {
      authority: new CertificateAuthority(
        cert,
        keys.privateKey,
        await BrokerIdentityAuthority.derive(cert, pemBody(keyPem)),
      ),
      certPem: cert.toString("pem"),
      keyPem,
    };
  }

  /** The CA kept in `dir` (ca.crt, ca.key), made on first use: for `remote-builder dev` and tests. */
  static async inFolder(dir: string): Promise<CertificateAuthority> {
    const certFile = join(dir, "ca.crt");
    const keyFile = join(dir, "ca.key");
    if (existsSync(certFile) && existsSync(keyFile)) {
      return CertificateAuthority.fromPem(readFileSync(certFile, "utf8"), readFileSync(keyFile, "utf8"));
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { authority, certPem, keyPem } = await CertificateAuthority.create();
    writeFileSync(keyFile, keyPem, { mode: 0o600 });
    writeFileSync(certFile, certPem);
    return authority;
  }

  /** A build's client certificate: it names the account and the build, and dies with the build. */
  async issueClientCertificate(
    request: ClientKeyRequest,
    identity: BuildIdentity,
    notAfter: number,
  ): Promise<string> {
    const publicKey = await clientPublicKey(request);
    const cert = await signCertificate(this.cert, this.key, publicKey, {
      subject: `CN=build ${identity.buildId}`,
      notAfter,
      usage: x509.ExtendedKeyUsage.clientAuth,
      names: [{ type: "url", value: buildIdentityUri(identity) }],
    });
    return cert.toString("pem");
  }

  /** A fresh key and a server certificate for `names` (DNS names or IP addresses). */
  async issueServer(names: string[], notAfter: number): Promise<KeyPairPem> {
    return issueKeyPair(this.cert, this.key, {
      subject: `CN=${names[0] ?? "remote-builder"}`,
      notAfter,
      usage: x509.ExtendedKeyUsage.serverAuth,
      names: names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: "ip", value: n } : { type: "dns", value: n })),
    });
  }

  /** The broker's client certificate, for its connections to builders: from the broker's own CA. */
  issueBrokerClient(notAfter: number): Promise<KeyPairPem> {
    return this.brokerIdentity.issueBrokerClient(notAfter);
  }

  /** A builder's server certificate, which only the broker (holding the CA) will trust. */
  issueBuilder(builderId: string, notAfter: number): Promise<KeyPairPem> {
    return this.issueServer([builderServerName(builderId)], notAfter);
  }
}

/**
 * The CA of the broker's identity towards builders, which signs nothing else. Every replica must
 * present a client certificate that builders made by any replica trust, so its key is derived
 * from the service CA's key (HKDF-SHA256), not made at random: the same CA on every replica, with
 * nothing more to configure or rotate than the service CA itself.
 */
export class BrokerIdentityAuthority {
  private constructor(
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
  ) {}

  get caPem(): string {
    return this.cert.toString("pem");
  }

  static async derive(root: x509.X509Certificate, rootKeyDer: Buffer): Promise<BrokerIdentityAuthority> {
    const keys = await derivedKeyPair(rootKeyDer, "remote-builder broker identity CA v1");
    const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", keys.publicKey));
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      // Named by its key: the same serial on every replica.
      serialNumber: createHash("sha256")
        .update(spki)
        .digest("hex")
        .slice(0, 32)
        .replace(/^[89a-f]/, "0"),
      name: "CN=remote-builder broker identity",
      notBefore: root.notBefore,
      notAfter: root.notAfter,
      signingAlgorithm: EC,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new BrokerIdentityAuthority(cert, keys.privateKey);
  }

  issueBrokerClient(notAfter: number): Promise<KeyPairPem> {
    return issueKeyPair(this.cert, this.key, {
      subject: "CN=remote-builder broker",
      notAfter,
      usage: x509.ExtendedKeyUsage.clientAuth,
      names: [{ type: "url", value: BROKER_URI }],
    });
  }
}

/** A P-256 key pair whose private scalar is HKDF(`secret`, `info`): the same for the same inputs. */
async function derivedKeyPair(secret: Buffer, info: string): Promise<CryptoKeyPair> {
  // The P-256 group order: a scalar must be below it (a 2^-32 chance per try that one is not).
  const order = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  for (let attempt = 0; ; attempt++) {
    const d = Buffer.from(hkdfSync("sha256", secret, "remote-builder", `${info} #${attempt}`, 32));
    const scalar = BigInt(`0x${d.toString("hex")}`);
    if (scalar === 0n || scalar >= order) continue;
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey();
    const jwk = {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33, 65).toString("base64url"),
    };
    const [privateKey, publicKey] = await Promise.all([
      webcrypto.subtle.importKey("jwk", { ...jwk, d: d.toString("base64url") }, EC, false, ["sign"]),
      webcrypto.subtle.importKey("jwk", jwk, EC, true, ["verify"]),
    ]);
    return { privateKey, publicKey } as CryptoKeyPair;
  }
}

async function issueKeyPair(
  issuer: x509.X509Certificate,
  key: CryptoKey,
  spec: SignSpec,
): Promise<KeyPairPem> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await signCertificate(issuer, key, keys.publicKey, spec);
  return { certPem: cert.toString("pem"), keyPem: await keyToPem(keys.privateKey) };
}

async function signCertificate(
  issuer: x509.X509Certificate,
  key: CryptoKey,
  publicKey: CryptoKey,
  spec: SignSpec,
): Promise<x509.X509Certificate> {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: spec.subject,
    issuer: issuer.subject,
    notBefore: new Date(now - SKEW_MS),
    notAfter: new Date(Math.min(spec.notAfter, issuer.notAfter.getTime())),
    signingAlgorithm: EC,
    publicKey,
    signingKey: key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // Signatures only: no key of ours or of a client's is used to encipher a TLS key exchange
      // (ECDHE, and TLS 1.3), so keyEncipherment, which an EC key cannot do anyway, is not claimed.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([spec.usage], false),
      new x509.SubjectAlternativeNameExtension(spec.names, false),
      await x509.AuthorityKeyIdentifierExtension.create(issuer, false),
    ],
  });
}

interface SignSpec {
  subject: string;
  notAfter: number;
  usage: x509.ExtendedKeyUsage;
  names: x509.JsonGeneralName[];
}

async function clientPublicKey(request: ClientKeyRequest): Promise<CryptoKey> {
  if (request.csr !== undefined) {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(request.csr);
    } catch {
      throw invalidKey("csr", "is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
    }
    if (!(await csr.verify().catch(() => false)))
      throw invalidKey("csr", "has a signature that does not verify");
    return importPublicKey(csr.publicKey.toString("pem"), "csr");
  }
  if (request.publicKey !== undefined) return importPublicKey(request.publicKey, "publicKey");
  throw invalidKey("publicKey", "is required: send the PEM public key of the key pair the client made");
}

async function importPublicKey(pem: string, field: string): Promise<CryptoKey> {
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw invalidKey(field, "is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  const spki = key.export({ type: "spki", format: "der" });
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === "ec" && (details.namedCurve === "prime256v1" || details.namedCurve === "secp384r1")) {
    const namedCurve = details.namedCurve === "prime256v1" ? "P-256" : "P-384";
    return webcrypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve }, true, [
      "verify",
    ]) as Promise<CryptoKey>;
  }
  if (type === "rsa" && (details.modulusLength ?? 0) >= 2048) {
    return webcrypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, [
      "verify",
    ]) as Promise<CryptoKey>;
  }
  throw invalidKey(
    field,
    `is ${describeKey(type, details)}, which the service does not sign; use ECDSA P-256 (or P-384, or RSA of 2048 bits or more)`,
  );
}

function describeKey(
  type: string | undefined,
  details: { namedCurve?: string; modulusLength?: number },
): string {
  if (type === "ec") return `an EC key on ${details.namedCurve ?? "an unnamed curve"}`;
  if (type === "rsa" || type === "rsa-pss")
    return `an ${type.toUpperCase()} key of ${details.modulusLength} bits`;
  return `a key of type ${type ?? "unknown"}`;
}

function invalidKey(field: string, why: string): Problem {
  return new Problem("invalid-request", `The ${field} ${why}.`, {
    errors: [{ path: `body.${field}`, message: why }],
  });
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .match(/.{1,64}/g)!
    .join("\n")}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // a positive integer
  return Buffer.from(bytes).toString("hex");
}
