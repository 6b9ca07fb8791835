import type { Request } from "express";
import type { Principal } from "../core/accounts.js";
import type { AccountStore } from "../core/ports.js";
import { Problem } from "../core/problems.js";
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

export function authenticators(accounts: AccountStore, adminToken: string): Authenticators {
  const self: Authenticators = {
    async agent(req): Promise<Principal> {
      const token = bearer(req);
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
