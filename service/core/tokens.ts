import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Agent tokens look like `rba_<43 base64url chars>`; the prefix makes a leaked one easy to grep for. */
export const AGENT_TOKEN_PREFIX = "rba_";
const TOKEN_SHAPE = /^rba_[A-Za-z0-9_-]{43}$/;

export function generateAgentToken(): { token: string; hash: Buffer; prefix: string } {
  const token = AGENT_TOKEN_PREFIX + randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token), prefix: token.slice(0, 10) };
}

/** Tokens are random and long, so one unsalted SHA-256 is enough to store them safely. */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export function looksLikeAgentToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
