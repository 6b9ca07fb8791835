/** An account as admission sees it: plan limits, feature flags, profiles. */
export const REMOTE_BUILDER_FEATURE = "remote_builder";

export interface Account {
  id: string;
  handle: string;
  plan: string;
  features: string[];
  concurrencyLimit: number;
  monthlyBuildMinutes: number;
  cacheVolumeGiB: number;
  allowedShapes: string[];
  profiles: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** Plan defaults, from config; an account created on a plan starts with these and may diverge. */
export interface PlanLimits {
  concurrencyLimit: number;
  monthlyBuildMinutes: number;
  cacheVolumeGiB: number;
  allowedShapes: string[];
}

export type PlanCatalog = Record<string, PlanLimits>;

export interface AgentToken {
  id: string;
  accountId: string;
  name: string;
  /** The first characters of the token, enough to recognise it in a list and never to use it. */
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Who is calling the build API. */
export interface Principal {
  account: Account;
  /** The agent token's id; null for a credential from the OIDC exchange. */
  tokenId: string | null;
  /** False when the caller may not write the account's warm cache: its builds run cold. */
  cacheWrite?: boolean;
  /** The CI run an exchanged credential is scoped to; builds record it. */
  ci?: CiRun | null;
}

export interface CiRun {
  repository: string | null;
  ref: string | null;
  workflow: string | null;
  run: string | null;
}
