import { randomBytes } from "node:crypto";
import type { Principal } from "./accounts.js";
import type { Clock, DashboardGrant, DashboardSessionStore, SignInProof } from "./ports.js";
import { Problem } from "./problems.js";
import { hashToken } from "./tokens.js";

/** A sign-in link works once, within this long of being made. */
export const DASHBOARD_LINK_TTL_MS = 5 * 60_000;
/** The session cookie a link becomes lives this long; then run `remote-builder dashboard` again. */
export const DASHBOARD_SESSION_TTL_MS = 60 * 60_000;

const LINK_PREFIX = "rbl_";
const SESSION_PREFIX = "rbs_";
const SECRET_SHAPE = /^rb[ls]_[A-Za-z0-9_-]{43}$/;

/**
 * Sign-in to the dashboard: an API caller (agent token, credential or the admin token) gets a
 * one-time link; visiting it once turns it into a short-lived session. Only hashes of either
 * secret are stored, a link is taken (read and deleted) in one step, so it works once, and both
 * expire on their own.
 */
export class DashboardAccess {
  constructor(
    private readonly deps: {
      sessions: DashboardSessionStore;
      clock: Clock;
      linkTtlMs?: number;
      sessionTtlMs?: number;
      /** Whether the secret a session came from still authenticates (see DashboardGrant.signedInWith). */
      stillValid?: (proof: SignInProof) => Promise<boolean>;
    },
  ) {}

  /**
   * A one-time sign-in secret for the caller (null: the admin token, who sees every account);
   * `proof` is the caller's own secret, which the session will go on checking.
   */
  async mintLink(
    principal: Principal | null,
    proof: SignInProof | null,
  ): Promise<{ token: string; expiresAt: number }> {
    const ttl = this.deps.linkTtlMs ?? DASHBOARD_LINK_TTL_MS;
    const token = LINK_PREFIX + randomBytes(32).toString("base64url");
    await this.deps.sessions.putLink(hashToken(token), grantOf(principal, proof), ttl);
    return { token, expiresAt: this.deps.clock.now() + ttl };
  }

  /** Takes the link (it works once) and opens a session; refused when expired, used or made up. */
  async redeem(link: string): Promise<{ session: string; grant: DashboardGrant; maxAgeMs: number }> {
    const grant =
      link.startsWith(LINK_PREFIX) && SECRET_SHAPE.test(link)
        ? await this.deps.sessions.takeLink(hashToken(link))
        : null;
    if (!grant) {
      throw new Problem(
        "sign-in-link-invalid",
        "This sign-in link has expired or was already used: a link works once, for a few minutes. " +
          "Run `remote-builder dashboard` for a new one.",
      );
    }
    const maxAgeMs = this.deps.sessionTtlMs ?? DASHBOARD_SESSION_TTL_MS;
    const session = SESSION_PREFIX + randomBytes(32).toString("base64url");
    await this.deps.sessions.putSession(hashToken(session), grant, maxAgeMs);
    return { session, grant, maxAgeMs };
  }

  /**
   * The session's grant, or null when it is missing, made up or expired, or when the secret that
   * asked for its link no longer authenticates (revoked, expired, its trust relationship gone).
   */
  async session(secret: string | undefined): Promise<DashboardGrant | null> {
    if (!secret || !secret.startsWith(SESSION_PREFIX) || !SECRET_SHAPE.test(secret)) return null;
    const grant = await this.deps.sessions.getSession(hashToken(secret));
    if (!grant) return null;
    const { signedInWith } = grant;
    if (signedInWith && this.deps.stillValid && !(await this.deps.stillValid(signedInWith))) return null;
    return grant;
  }
}

/** What a session may do, from the principal that asked for its link. */
function grantOf(principal: Principal | null, proof: SignInProof | null): DashboardGrant {
  if (principal === null)
    return { admin: true, accountId: null, cacheWrite: true, runKey: null, signedInWith: null };
  return {
    admin: false,
    accountId: principal.account.id,
    cacheWrite: principal.cacheWrite !== false,
    runKey: principal.tokenId === null ? principal.ci.runKey : null,
    signedInWith: proof,
  };
}
