import { confinedRun, type Principal } from "./accounts.js";
import type { Build, CacheRequest } from "./build.js";
import type { ResolvedShape } from "./catalog.js";
import { repositoryKeyOfRun } from "./ci-identity.js";

export interface CreateBuildRequest {
  shape?: string | undefined;
  profile?: string | undefined;
  cache: CacheRequest;
  waitSeconds: number;
  labels: Record<string, string>;
  /** The client's public key (PEM) or certificate request, to sign its client certificate. */
  publicKey?: string | undefined;
  csr?: string | undefined;
}

export interface DraftSettings {
  /** The name of each account's build-cache volume. */
  cacheVolume: string;
  buildDeadlineMs: number;
}

/** A build as admission first sees it: queued, holding nothing, its deadlines set from `now`. */
export function draftBuild(
  id: string,
  principal: Principal,
  request: CreateBuildRequest,
  shape: ResolvedShape,
  settings: DraftSettings,
  now: number,
): Build {
  const { account, ci } = principal;
  const run = confinedRun(principal) ?? null;
  return {
    id,
    accountId: account.id,
    tokenId: principal.tokenId,
    shape: shape.shape,
    profile: shape.profile,
    state: "queued",
    cacheRequest: request.cache,
    cacheVolume: settings.cacheVolume,
    cacheMode: null,
    cacheReason: null,
    labels: request.labels,
    builderId: null,
    tier: null,
    prewarmed: false,
    endpoint: null,
    claimFence: null,
    volumeFence: null,
    createdAt: now,
    startedAt: null,
    readyAt: null,
    endedAt: null,
    lastActivityAt: null,
    lastSeenAt: now,
    deadlineAt: now + settings.buildDeadlineMs,
    waitDeadlineAt: request.waitSeconds > 0 ? now + request.waitSeconds * 1000 : null,
    endReason: null,
    result: null,
    clientCertificate: null,
    bytesIn: 0,
    bytesOut: 0,
    repository: ci?.repository ?? null,
    ref: ci?.ref ?? null,
    workflow: ci?.workflow ?? null,
    run: ci?.run ?? null,
    repositoryKey: run === null ? null : repositoryKeyOfRun(run),
    runKey: run,
    cacheWrite: principal.cacheWrite ?? true,
    insights: null,
  };
}
