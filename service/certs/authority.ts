// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import {
  createECDH,
  ECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  hkdfSync,
  KeyObject,
  randomBytes,
  sign,
  webcrypto,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import * as x509 from "@peculiar/x509";
import { Problem } from "../core/problems.js";
import { builderServerName } from "../core/builder-names.js";
import * as der from "./der.js";
import { BROKER_URI, type BuildIdentity, buildIdentityUri } from "./identity.js";

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
    private readonly issuer: Issuer,
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
    const key = createPrivateKey({ key: pemBody(keyPem), format: "der", type: "pkcs8" });
    // What it signs says ecdsa-with-SHA256.
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new Error("the CA's key is not an ECDSA P-256 key (PKCS#8)");
    }
    const identity = await BrokerIdentityAuthority.derive(cert, pemBody(keyPem));
    return new CertificateAuthority(cert, await issuerOf(cert, key), identity);
  }

  static async create(now = Date.now()): Promise<{ authority: CertificateAuthority } & KeyPairPem> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial().toString("hex"),
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
    const signingKey = KeyObject.from(keys.privateKey);
    const keyPem = signingKey.export({ type: "pkcs8", format: "pem" }).toString();
    return {
      authority: new CertificateAuthority(
        cert,
        await issuerOf(cert, signingKey),
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
    return signCertificate(this.issuer, await clientPublicKey(request), {
      commonName: `build ${identity.buildId}`,
      notAfter,
      usage: CLIENT_AUTH,
      names: [{ type: "url", value: buildIdentityUri(identity) }],
    });
  }

  /** A fresh key and a server certificate for `names` (DNS names or IP addresses). */
  async issueServer(names: string[], notAfter: number): Promise<KeyPairPem> {
    return issueKeyPair(this.issuer, {
      commonName: names[0] ?? "remote-builder",
      notAfter,
      usage: SERVER_AUTH,
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
    private readonly issuer: Issuer,
  ) {}

  get caPem(): string {
    return this.cert.toString("pem");
  }

  static async derive(root: x509.X509Certificate, rootKeyDer: Buffer): Promise<BrokerIdentityAuthority> {
    const { keys, signingKey } = await derivedKeyPair(rootKeyDer, "remote-builder broker identity CA v1");
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
    return new BrokerIdentityAuthority(cert, await issuerOf(cert, signingKey));
  }

  issueBrokerClient(notAfter: number): Promise<KeyPairPem> {
    return issueKeyPair(this.issuer, {
      commonName: "remote-builder broker",
      notAfter,
      usage: CLIENT_AUTH,
      names: [{ type: "url", value: BROKER_URI }],
    });
  }
}

/** A P-256 key pair whose private scalar is HKDF(`secret`, `info`): the same for the same inputs. */
async function derivedKeyPair(
  secret: Buffer,
  info: string,
): Promise<{ keys: CryptoKeyPair; signingKey: KeyObject }> {
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
    const privateJwk = { ...jwk, d: d.toString("base64url") };
    const [privateKey, publicKey] = await Promise.all([
      webcrypto.subtle.importKey("jwk", privateJwk, EC, false, ["sign"]),
      webcrypto.subtle.importKey("jwk", jwk, EC, true, ["verify"]),
    ]);
    return {
      keys: { privateKey, publicKey } as CryptoKeyPair,
      signingKey: createPrivateKey({ key: privateJwk, format: "jwk" }),
    };
  }
}

/**
 * What signing a certificate needs of its issuer, worked out once: the issuer's name as its own
 * certificate encodes it (so that a chain matches byte for byte), its expiry, the authority key
 * identifier extension that points at its key, and the key.
 */
interface Issuer {
  name: Buffer;
  notAfter: number;
  authorityKeyIdentifier: Buffer;
  key: KeyObject;
}

async function issuerOf(cert: x509.X509Certificate, key: KeyObject): Promise<Issuer> {
  // Certificate → TBSCertificate → [version, serial, signature, issuer, validity, subject, …]
  const tbs = der.children(der.children(Buffer.from(cert.rawData))[0]!);
  const aki = await x509.AuthorityKeyIdentifierExtension.create(cert, false);
  return {
    name: tbs[5]!,
    notAfter: cert.notAfter.getTime(),
    authorityKeyIdentifier: Buffer.from(aki.rawData),
    key,
  };
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const ECDSA_WITH_SHA256 = der.sequence(der.oid("1.2.840.10045.4.3.2"));
const COMMON_NAME = der.oid("2.5.4.3");
const EXTENSION = {
  basicConstraints: der.oid("2.5.29.19"),
  keyUsage: der.oid("2.5.29.15"),
  extendedKeyUsage: der.oid("2.5.29.37"),
  subjectAltName: der.oid("2.5.29.17"),
};

interface SignSpec {
  commonName: string;
  notAfter: number;
  /** The one extended key usage (an OID): clientAuth or serverAuth. */
  usage: string;
  names: Array<{ type: "dns" | "ip" | "url"; value: string }>;
}

async function issueKeyPair(issuer: Issuer, spec: SignSpec): Promise<KeyPairPem> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)("ec", { namedCurve: "prime256v1" });
  return {
    certPem: signCertificate(issuer, publicKey.export({ type: "spki", format: "der" }), spec),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/**
 * A leaf certificate for `spki` (a DER SubjectPublicKeyInfo), written as DER and signed with the
 * issuer's key in one step: a CA-false, signature-only certificate with one extended key usage,
 * the given subject alternative names, valid from a minute ago until `notAfter` (never past the
 * issuer's own expiry), in whole seconds.
 */
function signCertificate(issuer: Issuer, spki: Buffer, spec: SignSpec): string {
  const now = Date.now();
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial()),
    ECDSA_WITH_SHA256,
    issuer.name,
    der.sequence(der.time(now - SKEW_MS), der.time(Math.min(spec.notAfter, issuer.notAfter))),
    der.sequence(der.set(der.sequence(COMMON_NAME, der.directoryString(spec.commonName)))),
    spki,
    der.explicit(
      3,
      der.sequence(
        extension(EXTENSION.basicConstraints, true, der.sequence()), // cA: false
        // Signatures only: no key of ours or of a client's is used to encipher a TLS key exchange
        // (ECDHE, and TLS 1.3), so keyEncipherment, which an EC key cannot do anyway, is not claimed.
        extension(EXTENSION.keyUsage, true, der.bitString(Buffer.from([0x80]), 1)), // digitalSignature
        extension(EXTENSION.extendedKeyUsage, false, der.sequence(der.oid(spec.usage))),
        extension(EXTENSION.subjectAltName, false, der.sequence(...spec.names.map(generalName))),
        issuer.authorityKeyIdentifier,
      ),
    ),
  );
  const signature = sign("sha256", tbs, issuer.key); // ECDSA-Sig-Value, DER
  const cert = der.sequence(tbs, ECDSA_WITH_SHA256, der.bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${cert
    .toString("base64")
    .match(/.{1,64}/g)!
    .join("\n")}\n-----END CERTIFICATE-----`;
}

function extension(id: Buffer, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(id, der.boolean(true), der.octetString(value))
    : der.sequence(id, der.octetString(value));
}

/** GeneralName: dNSName [2], uniformResourceIdentifier [6], iPAddress [7]. */
function generalName(name: SignSpec["names"][number]): Buffer {
  switch (name.type) {
    case "dns":
      return der.implicit(2, Buffer.from(name.value, "ascii"));
    case "url":
      return der.implicit(6, Buffer.from(name.value, "ascii"));
    case "ip":
      return der.implicit(7, ipAddressBytes(name.value));
  }
}

/** An IPv4 address as its 4 bytes, an IPv6 one as its 16. */
export function ipAddressBytes(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from(text.split(".").map(Number));
  if (!isIPv6(text)) throw new Error(`${text} is not an IP address`);
  // A trailing dotted quad (::ffff:10.0.0.1) is the last two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const group = (high: string, low: string) => ((Number(high) << 8) | Number(low)).toString(16);
  const hex = quad
    ? `${text.slice(0, quad.index)}${group(quad[1]!, quad[2]!)}:${group(quad[3]!, quad[4]!)}`
    : text;
  const [head, tail] = hex.split("::") as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const all =
    tail === undefined
      ? groups(head)
      : [
          ...groups(head),
          ...Array<string>(8 - groups(head).length - groups(tail).length).fill("0"),
          ...groups(tail),
        ];
  const bytes = Buffer.alloc(16);
  all.forEach((value, i) => bytes.writeUInt16BE(parseInt(value, 16), 2 * i));
  return bytes;
}

/** The DER SubjectPublicKeyInfo to certify: the client's key, or the key of its verified request. */
async function clientPublicKey(request: ClientKeyRequest): Promise<Buffer> {
  if (request.csr !== undefined) {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(request.csr);
    } catch {
      throw invalidKey("csr", "is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
    }
    if (!(await csr.verify().catch(() => false)))
      throw invalidKey("csr", "has a signature that does not verify");
    return signablePublicKey(csr.publicKey.toString("pem"), "csr");
  }
  if (request.publicKey !== undefined) return signablePublicKey(request.publicKey, "publicKey");
  throw invalidKey("publicKey", "is required: send the PEM public key of the key pair the client made");
}

/** The key as DER SPKI, if it is one the service signs: ECDSA P-256 or P-384, RSA of 2048 bits or more. */
function signablePublicKey(pem: string, field: string): Buffer {
  const canonical = canonicalEcSpki(pem);
  if (canonical) return canonical;
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw invalidKey(field, "is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const curve = type === "ec" ? CURVES[details.namedCurve ?? ""] : undefined;
  if (curve) return ecSpki(curve, key.export({ format: "jwk" }));
  if (type === "rsa" && (details.modulusLength ?? 0) >= 2048) return rsaSpki(key.export({ format: "jwk" }));
  throw invalidKey(
    field,
    `is ${describeKey(type, details)}, which the service does not sign; use ECDSA P-256 (or P-384, or RSA of 2048 bits or more)`,
  );
}

/** The curves the service signs keys on, by OpenSSL's names. */
const CURVES: Record<string, Curve> = {
  prime256v1: curve("prime256v1", "1.2.840.10045.3.1.7", 32),
  secp384r1: curve("secp384r1", "1.3.132.0.34", 48),
};
const RSA_ENCRYPTION = der.sequence(der.oid("1.2.840.113549.1.1.1"), der.NULL);

interface Curve {
  name: string;
  bytes: number;
  /** An SPKI of a point on this curve, up to the point itself (04‖X‖Y). */
  prefix: Buffer;
}

function curve(name: string, oid: string, bytes: number): Curve {
  const point = Buffer.alloc(1 + 2 * bytes);
  const spki = der.sequence(
    der.sequence(der.oid("1.2.840.10045.2.1"), der.oid(oid)), // id-ecPublicKey, the curve
    der.bitString(point),
  );
  return { name, bytes, prefix: spki.subarray(0, spki.length - point.length) };
}

/**
 * SubjectPublicKeyInfo written from the key's numbers (its JWK: far cheaper to get than OpenSSL's
 * DER encoder), as WebCrypto writes it: an EC point uncompressed, RSA with NULL parameters.
 */
function ecSpki(curve: Curve, jwk: webcrypto.JsonWebKey): Buffer {
  const coordinate = (base64url: string | undefined) => {
    const bytes = Buffer.from(base64url ?? "", "base64url");
    return Buffer.concat([Buffer.alloc(curve.bytes - bytes.length), bytes]);
  };
  return Buffer.concat([curve.prefix, Buffer.from([0x04]), coordinate(jwk.x), coordinate(jwk.y)]);
}

function rsaSpki(jwk: webcrypto.JsonWebKey): Buffer {
  const integer = (base64url: string | undefined) =>
    der.unsignedInteger(Buffer.from(base64url ?? "", "base64url"));
  return der.sequence(RSA_ENCRYPTION, der.bitString(der.sequence(integer(jwk.n), integer(jwk.e))));
}

// Linear to match: the body's characters exclude "-", so it can end only at the END line.
const PUBLIC_KEY_PEM = /^\s*-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]*)-----END PUBLIC KEY-----\s*$/;

/**
 * What the Action and the CLI send, read without OpenSSL's decoders (a third of the cost of a
 * certificate): one PEM block in canonical base64 holding exactly the SPKI `ecSpki` would write, an
 * uncompressed point on P-256 or P-384 after the curve's fixed prefix, the point checked to be on
 * the curve as OpenSSL's decoder checks it. Null for anything else, which takes the general path.
 */
function canonicalEcSpki(pem: string): Buffer | null {
  const body = PUBLIC_KEY_PEM.exec(pem)?.[1]?.replace(/\s+/g, "");
  if (body === undefined) return null;
  const spki = Buffer.from(body, "base64");
  if (spki.toString("base64") !== body) return null; // one reading of the text, whoever decodes it
  for (const curve of Object.values(CURVES)) {
    const point = spki.subarray(curve.prefix.length);
    if (point.length !== 1 + 2 * curve.bytes || point[0] !== 0x04) continue;
    if (!spki.subarray(0, curve.prefix.length).equals(curve.prefix)) continue;
    try {
      ECDH.convertKey(point, curve.name); // refuses a point that is not on the curve
    } catch {
      return null;
    }
    return spki;
  }
  return null;
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

/** A random positive serial of up to 127 bits, from random bytes drawn a few KiB at a time. */
function serial(): Buffer {
  if (randomOffset + 16 > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  const bytes = Buffer.from(randomPool.subarray(randomOffset, (randomOffset += 16)));
  bytes[0]! &= 0x7f; // a positive integer
  return bytes;
}

const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;
