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

/**
 * Who is calling the build API: an agent token, with rights over every build of its account, or a
 * credential from the OIDC exchange, which acts only on the builds its own CI run created.
 */
export type Principal = AgentTokenPrincipal | CredentialPrincipal;

export interface AgentTokenPrincipal {
  account: Account;
  /** The agent token's id. */
  tokenId: string;
  cacheWrite?: undefined;
  ci?: undefined;
}

export interface CredentialPrincipal {
  account: Account;
  /** Null: this is no agent token but a credential from the OIDC exchange. */
  tokenId: null;
  /** False when the caller may not write the account's warm cache: its builds run cold. */
  cacheWrite: boolean;
  /** The CI run the credential is scoped to; builds record it. */
  ci: CiRun;
}

export interface CiRun {
  repository: string | null;
  ref: string | null;
  workflow: string | null;
  run: string | null;
  /**
   * The run as one key (issuer, owner, repository by id, run; see runKey() in ci-identity.ts): a
   * credential sees and acts on exactly the builds that carry its key.
   */
  runKey: string;
}

/** The run whose builds `principal` is confined to; undefined for an agent token (the whole account). */
export function confinedRun(principal: Principal): string | undefined {
  return principal.tokenId === null ? principal.ci.runKey : undefined;
}

/**
 * May `principal` see and act on `build`? Only within its account; an exchanged credential only on
 * its own run's builds, never another run's (a pull request's job must not end the default
 * branch's build) nor an agent token's, which carry no run key.
 */
export function mayActOn(principal: Principal, build: { accountId: string; runKey: string | null }): boolean {
  if (build.accountId !== principal.account.id) return false;
  const run = confinedRun(principal);
  return run === undefined || run === build.runKey;
}
