import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface KeyFiles {
  dir: string;
  keyPath: string;
  certPath: string;
  caPath: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

/**
 * A fresh ECDSA P-256 key pair for one build, made here so that the private key never leaves
 * the machine: the service only ever sees the public half and signs a certificate for it.
 * Files are owner-only (0600) in an owner-only folder (0700).
 */
export function createKeyFiles(parent: string): KeyFiles {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "remote-builder-"));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyPath = join(dir, "key.pem");
  writeFileSync(keyPath, privateKeyPem, { mode: 0o600 });
  return {
    dir,
    keyPath,
    certPath: join(dir, "cert.pem"),
    caPath: join(dir, "ca.pem"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem,
  };
}

/** Writes the certificate the service signed and the CA to check the broker with. */
export function writeCertificates(files: KeyFiles, certificatePem: string, caPem: string): void {
  writeFileSync(files.certPath, certificatePem, { mode: 0o600 });
  writeFileSync(files.caPath, caPem, { mode: 0o600 });
}

export function removeKeyFiles(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
