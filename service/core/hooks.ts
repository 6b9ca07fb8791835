import { Problem } from "./problems.js";

/**
 * Hook installations: which CI owner may tell the service that its jobs were queued, each with a
 * secret of its own. The secret is never stored: it is derived from the service's hook key and the
 * installation's id (hook-secrets.ts), so a database dump yields none, and removing the
 * installation revokes it.
 */

export const HOOK_PROVIDERS = ["github", "gitlab", "buildkite"] as const;
export type HookProvider = (typeof HOOK_PROVIDERS)[number];

export interface HookInstallation {
  id: string;
  provider: HookProvider;
  /** The issuer name the owner's trust relationships use (RB_OIDC_ISSUERS), e.g. `github`. */
  issuer: string;
  /** The owner's stable id: GitHub owner (org or user), GitLab namespace, Buildkite organization. */
  ownerId: string;
  /** For display only: what the admin called the owner. */
  ownerName: string | null;
  createdAt: number;
}

export type NewHookInstallation = Omit<HookInstallation, "id" | "createdAt">;

/** The problem every hook route answers while RB_HOOK_SECRET_KEY is unset. */
export function hooksOff(): Problem {
  return new Problem(
    "unavailable",
    "Hooks are off: this service has no RB_HOOK_SECRET_KEY. Set it to 32 random bytes in hex (`openssl rand -hex 32`), the same on every replica, and restart; `remote-builder dev` makes one itself.",
    { reason: "hooks-off" },
  );
}

export const hookPath = (provider: HookProvider) => `/api/v1/hooks/${provider}`;
