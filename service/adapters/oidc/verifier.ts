import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import type { IssuerConfig } from "../../core/ci-identity.js";
import type { Clock, IdentityVerifier } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";
import { IssuerKeys, type JwksOptions, type KeySetBackup } from "./jwks.js";

/** CI tokens are 1–3 KiB; anything much larger is refused before it is parsed. */
export const MAX_TOKEN_LENGTH = 8192;
export const LEEWAY_SECONDS = 30;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface VerifierOptions extends JwksOptions {
  /** The `aud` every token must carry exactly, unless its issuer configures its own. */
  audience: string;
  issuers: IssuerConfig[];
}

const invalid = (reason: string, detail: string, extra: Record<string, unknown> = {}) =>
  new Problem("invalid-token", detail, { reason, ...extra });

/**
 * Verifies CI identity tokens with jose: RS256 only, an allow-listed issuer, exactly the expected
 * audience, exp/nbf/iat with 30 s of leeway, a `jti`, and a key from the issuer's JWKS.
 */
export class JoseIdentityVerifier implements IdentityVerifier {
  private readonly keys = new Map<string, IssuerKeys>();

  constructor(
    private readonly options: VerifierOptions,
    private readonly clock: Clock,
    backup: KeySetBackup | null = null,
  ) {
    for (const issuer of options.issuers) {
      this.keys.set(issuer.issuer, new IssuerKeys(issuer, clock, options, backup));
    }
  }

  async verify(
    token: string,
  ): Promise<{ issuer: IssuerConfig; claims: Record<string, unknown>; expiresAt: number }> {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw invalid(
        "oversized",
        `The token is ${token.length} characters; CI identity tokens are at most ${MAX_TOKEN_LENGTH}.`,
      );
    }
    if (!JWT_SHAPE.test(token)) {
      throw invalid(
        "malformed",
        "The token is not a JWT (three base64url parts joined by dots). Send the CI's OIDC identity token itself, e.g. the value of core.getIDToken() or $CI_JOB_JWT-style id_tokens.",
      );
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw invalid("malformed", "The token's header or payload is not base64url-encoded JSON.");
    }
    if (header.alg !== "RS256") {
      throw invalid("algorithm", `The token is signed with ${String(header.alg)}; only RS256 is accepted.`, {
        alg: header.alg ?? null,
      });
    }
    if (typeof header.kid !== "string" || header.kid === "") {
      throw invalid("missing-kid", "The token's header names no signing key (kid).");
    }
    const keys = typeof unverified.iss === "string" ? this.keys.get(unverified.iss) : undefined;
    if (!keys) {
      throw new Problem(
        "unknown-issuer",
        `The token's issuer ${JSON.stringify(unverified.iss ?? null)} is not one this service trusts (${[...this.keys.keys()].join(", ")}). ` +
          "An operator adds issuers with RB_OIDC_ISSUERS.",
        { reason: "unknown-issuer", issuer: unverified.iss ?? null },
      );
    }
    const issuer = keys.issuer;
    const audience = issuer.audience ?? this.options.audience;
    const key = await keys.key(header.kid);
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, key, {
        algorithms: ["RS256"],
        issuer: issuer.issuer,
        audience,
        clockTolerance: LEEWAY_SECONDS,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ["exp", "iat", "jti"],
      }));
    } catch (err) {
      throw refusal(err, audience);
    }
    const iat = claims.iat as number;
    if (iat * 1000 > this.clock.now() + LEEWAY_SECONDS * 1000) {
      throw invalid(
        "issued-in-future",
        `The token's iat is more than ${LEEWAY_SECONDS} s in the future: check the CI's clock.`,
      );
    }
    // Exactly the audience: a token minted for several relying parties is not for us alone.
    if (Array.isArray(claims.aud) && claims.aud.length !== 1) {
      throw new Problem(
        "wrong-audience",
        `The token is for ${claims.aud.length} audiences; this service accepts only tokens for exactly "${audience}".`,
        { reason: "audience", expected: audience },
      );
    }
    if (typeof claims.jti !== "string" || claims.jti === "" || claims.jti.length > 256) {
      throw invalid(
        "missing-claim",
        "The token's jti claim is not a string; without it a replay cannot be refused.",
        {
          claim: "jti",
        },
      );
    }
    return { issuer, claims, expiresAt: (claims.exp as number) * 1000 };
  }
}

function refusal(err: unknown, audience: string): Problem {
  if (err instanceof errors.JWTExpired) {
    return new Problem(
      "token-expired",
      `The token expired (more than ${LEEWAY_SECONDS} s ago, by this service's clock); request a fresh one right before the exchange.`,
      { reason: "expired" },
    );
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") {
      const got = (err.payload as { aud?: unknown }).aud;
      return new Problem(
        "wrong-audience",
        `The token's audience is ${JSON.stringify(got ?? null)}; this service accepts exactly "${audience}". ` +
          `In GitHub Actions request it with core.getIDToken("${audience}"); in GitLab set id_tokens: <NAME>: aud: ${audience}.`,
        { reason: "audience", expected: audience },
      );
    }
    if (err.reason === "missing") {
      return invalid("missing-claim", `The token has no ${err.claim} claim.`, { claim: err.claim });
    }
    if (err.claim === "nbf") {
      return invalid(
        "not-yet-valid",
        `The token is not valid before its nbf, more than ${LEEWAY_SECONDS} s from now.`,
      );
    }
    if (err.claim === "iat") {
      return invalid("issued-in-future", `The token's iat is more than ${LEEWAY_SECONDS} s in the future.`);
    }
    if (err.claim === "iss") return new Problem("unknown-issuer", err.message, { reason: "unknown-issuer" });
    return invalid("invalid-claim", `The token's ${err.claim} claim is not valid: ${err.message}.`, {
      claim: err.claim,
    });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return invalid(
      "signature",
      "The token's signature does not verify with its issuer's key; it was altered or forged.",
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalid("algorithm", `The token's algorithm is not accepted: ${err.message}.`);
  }
  if (
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JOSEError
  ) {
    return invalid("malformed", `The token is not a valid JWT: ${err.message}.`);
  }
  if (err instanceof TypeError) return invalid("malformed", `The token is not a valid JWT: ${err.message}.`);
  throw err;
}
