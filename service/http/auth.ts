import type { Request } from "express";
import type { Principal } from "../core/accounts.js";
import type { AccountStore, SignInProof } from "../core/ports.js";
import { Problem } from "../core/problems.js";
import { CREDENTIAL_PREFIX } from "../core/oidc-exchange.js";
import { hashToken, looksLikeAgentToken, sameSecret } from "../core/tokens.js";
import type { Authenticators } from "./route.js";

function bearer(req: Request): string {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new Problem(
      "unauthorized",
      header
        ? "The Authorization header must be `Bearer <token>`."
        : "Send the token as `Authorization: Bearer <token>`.",
    );
  }
  return match[1]!;
}

/** The caller's own secret as a sign-in proof (its kind and hash), for a dashboard session to check again. */
export function bearerProof(req: Request): SignInProof {
  const token = bearer(req);
  const kind = token.startsWith(CREDENTIAL_PREFIX) ? "credential" : "agent";
  return { kind, hash: hashToken(token).toString("hex") };
}

/** Resolves an exchanged account credential (`rbc_…`) to its principal; null when it is not valid. */
export type CredentialAuthenticator = (credential: string) => Promise<Principal | null>;

export function authenticators(
  accounts: AccountStore,
  adminToken: string,
  credentials: CredentialAuthenticator | null = null,
): Authenticators {
  const self: Authenticators = {
    async agent(req): Promise<Principal> {
      const token = bearer(req);
      if (token.startsWith(CREDENTIAL_PREFIX)) {
        const principal = credentials ? await credentials(token) : null;
        if (!principal) {
          throw new Problem(
            "unauthorized",
            "The account credential is expired, mistyped or no longer trusted (credentials live at most an hour, and die with their trust relationship). Exchange a fresh OIDC token at POST /api/v1/auth/oidc.",
          );
        }
        return principal;
      }
      const found = looksLikeAgentToken(token) ? await accounts.authenticate(hashToken(token)) : null;
      if (!found) {
        throw new Problem(
          "unauthorized",
          "The token is not a valid agent token: it may be mistyped or revoked. Mint a new one with `remote-builder admin tokens create <account>`.",
        );
      }
      return { account: found.account, tokenId: found.token.id };
    },
    admin(req): void {
      if (!sameSecret(bearer(req), adminToken)) {
        throw new Problem(
          "admin-required",
          "This route takes the admin token (RB_ADMIN_TOKEN), not an agent token.",
        );
      }
    },
    async agentOrAdmin(req): Promise<Principal | null> {
      return sameSecret(bearer(req), adminToken) ? null : self.agent(req);
    },
  };
  return self;
}
