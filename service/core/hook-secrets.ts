import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Each hook installation's secret is HMAC-SHA256(RB_HOOK_SECRET_KEY, installation id), never
 * stored: PostgreSQL holds only the id, which is useless without the key, and an installation
 * removed from the table has no secret left to check against.
 *
 * The secret names its installation (`rbh_<id><mac>`): a CI that sends the secret itself (GitLab's
 * X-Gitlab-Token) is matched to its installation by one lookup, then checked in constant time.
 */

const PREFIX = "rbh_";
/** Domain separation: the key derives nothing else with the same input. */
const LABEL = "remote-builder hook installation ";
const SECRET = /^rbh_([0-9a-f]{32})[A-Za-z0-9_-]{43}$/;

export function hookSecret(key: Buffer, installationId: string): string {
  const mac = createHmac("sha256", key)
    .update(LABEL + installationId)
    .digest("base64url");
  return `${PREFIX}${installationId.replace(/-/g, "")}${mac}`;
}

/** The installation id a secret names, or null when it is not one of ours in form. */
export function installationOfSecret(secret: string): string | null {
  const hex = SECRET.exec(secret)?.[1];
  if (!hex) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Constant-time equality of two secrets (their lengths are public: both are of our one form). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HMAC-SHA256 of `parts` under `secret` (its UTF-8 bytes, as the CIs use it). */
export function hmacSha256(secret: string, ...parts: Buffer[]): Buffer {
  const mac = createHmac("sha256", secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time equality of a computed MAC and the one a delivery carries (both 32 bytes). */
export function sameMac(computed: Buffer, given: Buffer): boolean {
  return computed.length === given.length && timingSafeEqual(computed, given);
}
