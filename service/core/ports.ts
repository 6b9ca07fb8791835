/**
 * What the core needs from the outside world. Adapters (PostgreSQL, Redis, drivers) implement
 * these; the core never imports them.
 */
import type { Account, AgentToken, CiRun, PlanLimits } from "./accounts.js";
import type { Build, BuilderTier, BuildPatch } from "./build.js";
import type { SolveRecord } from "./build-insights.js";
import type { BuildState, StateChange } from "./lifecycle.js";
import type { Shape } from "./catalog.js";
import type { LedgerEntry, Volume } from "./ledger.js";
import type { IssuerConfig } from "./ci-identity.js";
import type { NewTrustRelationship, TrustRelationship } from "./trust.js";
import type { PastBuild } from "./prewarm-policy.js";
import type { HookInstallation, HookProvider, NewHookInstallation } from "./hooks.js";

export interface Clock {
  now(): number;
}

export interface NewAccount extends PlanLimits {
  handle: string;
  plan: string;
  features: string[];
  profiles: Record<string, string>;
}

export type AccountUpdate = Partial<Omit<NewAccount, "handle">>;

export interface AccountStore {
  create(account: NewAccount): Promise<Account>;
  /** By id or handle. */
  find(ref: string): Promise<Account | null>;
  /** Account handles in order, at most `limit` (the admin's account picker). */
  handles(limit: number): Promise<string[]>;
  update(id: string, update: AccountUpdate): Promise<Account>;
  setFeature(id: string, feature: string, enabled: boolean): Promise<Account>;
  createToken(accountId: string, name: string, tokenHash: Buffer, prefix: string): Promise<AgentToken>;
  listTokens(accountId: string): Promise<AgentToken[]>;
  revokeToken(accountId: string, tokenId: string): Promise<AgentToken | null>;
  /** The live (unrevoked) token with this hash and its account; marks the token used. */
  authenticate(tokenHash: Buffer): Promise<{ account: Account; token: AgentToken } | null>;
}

export interface BuildStore {
  insert(build: Build): Promise<void>;
  get(id: string): Promise<Build | null>;
  /**
   * Makes `change` (from the lifecycle table) and applies `patch`, only if the build is still in
   * `change.from`. Returns the updated build, or null when another writer moved it first.
   */
  transition(id: string, change: StateChange, patch: BuildPatch): Promise<Build | null>;
  /**
   * Like transition, into a terminal state, and appends the build's ledger entry in the same
   * transaction: a build is billed exactly when it ends, exactly once.
   */
  finish(
    id: string,
    change: StateChange,
    patch: BuildPatch,
    entry: LedgerEntry | null,
  ): Promise<Build | null>;
  /** Updates fields without a state change (activity, fences), only while in `state`. */
  patch(id: string, state: BuildState, patch: BuildPatch): Promise<Build | null>;
  /** The account's builds, newest first; with `runKey`, only those of that CI run. */
  list(accountId: string, states: BuildState[] | null, limit: number, runKey?: string): Promise<Build[]>;
  /** Adds what the broker carried for the build; counted whatever its state. */
  addBytes(id: string, bytesIn: number, bytesOut: number): Promise<void>;
  /** Every build not in a terminal state, oldest first. */
  listUnfinished(limit: number): Promise<Build[]>;
  /** Build seconds of `accountId` from `since` to `now`: ended builds plus the running ones so far. */
  usedSeconds(accountId: string, since: number, now: number): Promise<number>;
  /** The account's builds of one repository (its repositoryKey) created since `since`, newest first. */
  history(accountId: string, repositoryKey: string, since: number, limit: number): Promise<PastBuild[]>;
}

export interface LedgerPage {
  entries: Array<LedgerEntry & { recordedAt: number }>;
  /** Pass back as `after` for the next page; the same cursor when there is nothing new yet. */
  cursor: string;
}

export interface Usage {
  buildSecondsByShape: Record<string, number>;
  storageGiBHours: number;
}

/** One UTC day of usage: build seconds (clipped to the day) and the storage GiB-hours it billed. */
export interface DailyUsage {
  /** The day, YYYY-MM-DD (UTC). */
  day: string;
  buildSeconds: number;
  storageGiBHours: number;
}

/** The append-only billing ledger. */
export interface LedgerStore {
  /** Appends entries; an entry whose key is already there is skipped, so retries are safe. */
  append(entries: LedgerEntry[]): Promise<number>;
  /** The start of the last hour billed for a volume, or null. */
  lastStorageHour(volumeId: string): Promise<number | null>;
  usage(accountId: string, from: number, to: number): Promise<Usage>;
  /** Usage over [from, to) by UTC day, days without any left out. */
  usageByDay(accountId: string, from: number, to: number): Promise<DailyUsage[]>;
  page(after: string | null, limit: number): Promise<LedgerPage>;
}

/** Cache volumes, as far as billing and leases need them (the Kubernetes driver adds placement). */
export interface VolumeStore {
  /** The account's live volume by name, created (with `sizeGiB`) on first use; marks it used. */
  ensure(accountId: string, name: string, sizeGiB: number, now: number): Promise<Volume>;
  listLive(): Promise<Volume[]>;
  /** The account's live volumes, by name. */
  list(accountId: string): Promise<Volume[]>;
  /**
   * Ends the live volume's life (billing stops); null when there is none by that name. A `lostReason`
   * (node gone, evicted) is told to the next build that gets a volume by that name.
   */
  retire(accountId: string, name: string, now: number, lostReason?: string): Promise<Volume | null>;
  /** The build that reported a lost volume's reason clears it, so it is told once. */
  clearLostNote(volumeId: string): Promise<void>;
}

/** A Redis-backed counting semaphore with a FIFO wait queue: concurrency slots, volume leases. */
export type ClaimScope =
  { kind: "concurrency"; accountId: string } | { kind: "volume"; accountId: string; volume: string };

export type AcquireResult =
  | { outcome: "granted"; fence: number }
  | { outcome: "queued"; position: number; holders: number }
  | { outcome: "busy"; holders: number };

export type ReleaseResult = { outcome: "released" | "not-held" | "stale-fence"; waiting: string[] };

export interface ClaimStore {
  /**
   * Takes a slot for `member`, or queues it (FIFO) until `waitDeadline` when one is given, or says
   * busy. Idempotent for a holder: it extends the lease and returns the same fence.
   */
  acquire(
    scope: ClaimScope,
    member: string,
    opts: { capacity: number; leaseMs: number; now: number; waitDeadline: number | null },
  ): Promise<AcquireResult>;
  heartbeat(
    scope: ClaimScope,
    member: string,
    fence: number,
    opts: { leaseMs: number; now: number },
  ): Promise<"ok" | "not-held" | "stale-fence">;
  /** Gives the slot up (or leaves the queue); returns the waiters that may now take a slot. */
  release(
    scope: ClaimScope,
    member: string,
    opts: { fence: number | null; capacity: number; now: number },
  ): Promise<ReleaseResult>;
  /** Drops expired holders and waiters; returns who they were. */
  reclaim(scope: ClaimScope, now: number): Promise<{ holders: string[]; waiters: string[] }>;
  /** Live holders, with their lease expiry. */
  holders(scope: ClaimScope, now: number): Promise<Map<string, number>>;
  /** A waiter's place in the queue, from 1; null when it is not waiting. */
  position(scope: ClaimScope, member: string): Promise<number | null>;
  /** Everyone in the queue, live or lapsed, in arrival order. */
  waiters(scope: ClaimScope): Promise<string[]>;
  /** Scopes that have holders or waiters, for the reconcile loop. */
  scopes(): Promise<ClaimScope[]>;
}

export interface BuilderSpec {
  buildId: string;
  accountId: string;
  shapeName: string;
  shape: Shape;
  /** The account's cache volume, or null for a cold, throw-away builder. */
  volume: { name: string; sizeGiB: number } | null;
}

export interface BuilderTls {
  /** The CA whose certificates the builder accepts from clients: the broker's identity only. */
  caPem: string;
  certPem: string;
  keyPem: string;
  serverName: string;
}

/**
 * Issues a builder's mTLS server credentials, naming the builder (not a build: idle and warm
 * builders serve build after build). Only the broker, holding the CA, can connect with them.
 */
export interface BuilderCredentials {
  issue(builderId: string): Promise<BuilderTls>;
}

/** Tells every replica's broker that a build ended, so its connections close at once. */
export interface RevocationBus {
  publish(buildId: string): Promise<void>;
}

/** Signs what builds and builders need; the private keys of clients never reach it. */
export interface CertificateIssuer {
  readonly caPem: string;
  /** The CA of the broker's client identity: the only one builders trust. */
  readonly brokerIdentityCaPem: string;
  /** Throws an `invalid-request` Problem for a key or CSR it will not sign. */
  issueClientCertificate(
    request: { publicKey?: string | undefined; csr?: string | undefined },
    identity: { accountId: string; buildId: string },
    notAfter: number,
  ): Promise<string>;
  issueBuilder(builderId: string, notAfter: number): Promise<{ certPem: string; keyPem: string }>;
}

export interface Builder {
  builderId: string;
  buildId: string;
  accountId: string;
  state: "booting" | "ready" | "failed";
  createdAt: number;
}

/** Where builders run: in memory (tests, first run), buildkitd processes (`local`), Kubernetes. */
/**
 * What a driver reports of its builders, for the log: `warn` when an operator should act (a builder
 * that cannot start, a daemon that died), `info` for the ordinary course of the fleet.
 */
export type DriverEvents = (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;

/** The account's builder, started on its volume ahead of a build a CI said was coming (prewarm.ts). */
export interface PrewarmSpec {
  /** The account whose queued job this is: its cap counts the builder. */
  accountId: string;
  shapeName: string;
  shape: Shape;
  /**
   * The account's cache volume; null for a fresh builder of the shape, for a job whose builds run
   * cold: a warm builder outside the pool's target, which any build that a warm one serves may take.
   */
  volume: { name: string; sizeGiB: number } | null;
  /** How long it waits for a build to take it before it stops. */
  ttlMs: number;
  /** Pre-warmed builders the account may have waiting at once, this one included. */
  maxPerAccount: number;
}

export type PrewarmStart =
  { outcome: "started"; builderId: string } | { outcome: "already-warm" | "skipped"; reason: string };

/** Where a build's builder came from; `prewarmedAt` when it was a pre-warmed one: when it started. */
export interface CreatedBuilder {
  builderId: string;
  tier: BuilderTier;
  prewarmedAt?: number;
}

export interface BuilderDriver {
  readonly name: string;
  create(spec: BuilderSpec): Promise<CreatedBuilder>;
  /**
   * Starts the account's builder on its volume as an idle builder that no build holds yet, and
   * stops it after `ttlMs` unless a build takes it (as its idle builder: `create` then reports
   * `prewarmedAt`). Takes no concurrency slot and no warm-pool builder; starts nothing while a
   * builder serves a build on the volume; an idle one that already holds it is kept up for `ttlMs`
   * (`already-warm`). Without a volume, a fresh warm builder of the shape, stopped after `ttlMs`
   * unless a build takes it as its warm builder.
   */
  prewarm?(spec: PrewarmSpec): Promise<PrewarmStart>;
  /** Resolves with the builder's address once it accepts connections; rejects if it cannot boot. */
  awaitReady(builderId: string, timeoutMs: number): Promise<{ endpoint: string }>;
  /**
   * The build is done with its builder. Idempotent: terminating a builder that is gone is not an
   * error. With `buildId`, only while the builder still serves that build: a pool builder that a
   * later build took since is not touched by a late or repeated terminate.
   */
  terminate(builderId: string, buildId?: string): Promise<void>;
  list(): Promise<Builder[]>;
  /** Throws away a cache volume's data; the next build with that name starts empty. */
  dropVolume(accountId: string, name: string): Promise<void>;
  /** Where a volume lives, for people (a folder, a node); null when the driver does not know. */
  volumeLocation?(accountId: string, name: string): Promise<string | null>;
  /** Stops whatever the driver runs in this process (the service is shutting down). */
  close?(): Promise<void>;
  /**
   * The leader's pass over the fleet: keeps warm pools, reaps idle builders, removes orphans and
   * gives up volumes on lost nodes. `live` are the volumes the service knows; anything else is an
   * orphan. Reports where the volumes are, for eviction.
   */
  maintain?(live: Volume[]): Promise<FleetReport>;
  /** Calls `listener` when the fleet changes, so the next pass need not wait for its timer. */
  onChange?(listener: () => void): void;
}

export interface PlacedVolume {
  accountId: string;
  name: string;
  /** The node holding it; null while it is not bound to one yet. */
  node: string | null;
  sizeGiB: number;
  /** A builder serving a build holds it. */
  busy: boolean;
}

export interface FleetReport {
  /** Volumes whose data is gone (their node is), already removed from the cluster. */
  lost: Array<{ accountId: string; name: string; reason: string }>;
  placed: PlacedVolume[];
}

/**
 * Reads a builder's BuildKit build history: the solves it started within `window` (epoch ms), with
 * their steps where the builder has them. Gives up (rejects) after `timeoutMs`.
 */
export interface BuildInsightsReader {
  read(
    builder: { builderId: string; endpoint: string },
    window: { from: number; to: number },
    timeoutMs: number,
  ): Promise<SolveRecord[]>;
}

/** Counters and gauges the core reports; the Prometheus adapter implements it. */
export interface Telemetry {
  admission(outcome: string): void;
  claimWait(seconds: number): void;
  buildEnded(state: BuildState, reason: string): void;
  /** A queued job's pre-warm for one account: `started`, `already-warm`, `skipped`. */
  prewarm(outcome: string): void;
  /** A build took a pre-warmed builder, `leadSeconds` after the builder started. */
  prewarmUsed(leadSeconds: number): void;
  /** A pre-warmed builder stopped unused after `seconds`: pod time no build used, billed to no one. */
  prewarmWasted(seconds: number): void;
}

/** Trust relationships (OIDC exchange), per account. */
export interface TrustStore {
  create(relationship: NewTrustRelationship): Promise<TrustRelationship>;
  list(accountId: string): Promise<TrustRelationship[]>;
  /** Every account's relationships for one owner of one issuer. */
  forOwner(issuer: string, ownerId: string): Promise<TrustRelationship[]>;
  remove(accountId: string, id: string): Promise<TrustRelationship | null>;
  /** The account a relationship belongs to, while the relationship exists. */
  accountOf(relationshipId: string): Promise<Account | null>;
}

/** Verifies a CI's OIDC token: signature, issuer, audience, times. Throws a Problem when it is not valid. */
export interface IdentityVerifier {
  verify(
    token: string,
  ): Promise<{ issuer: IssuerConfig; claims: Record<string, unknown>; expiresAt: number }>;
}

/** What an exchanged credential is scoped to; kept (under the credential's hash) until it expires. */
export interface AccountCredential extends CiRun {
  accountId: string;
  relationshipId: string;
  issuer: string;
  ownerId: string;
  subject: string | null;
  repositoryId: string | null;
  cacheWrite: boolean;
  /** Why the cache policy is what it is, as the exchange said it. */
  cacheReason: string;
  /**
   * When the exchange that began this line of credentials took place; a refresh carries it
   * unchanged, and no refresh is allowed once a build deadline has passed since.
   */
  firstExchangeAt: number;
  expiresAt: number;
}

export interface CredentialStore {
  put(hash: Buffer, credential: AccountCredential, ttlMs: number): Promise<void>;
  get(hash: Buffer): Promise<AccountCredential | null>;
  /** Records a token id as used until `ttlMs` from now; false when it already was. */
  markUsed(issuer: string, jti: string, ttlMs: number): Promise<boolean>;
}

/** Owner and repository names to their stable ids (the GitHub REST API). */
export interface OwnerDirectory {
  resolve(owner: string, repository: string | null): Promise<ResolvedOwner>;
}

export interface ResolvedOwner {
  ownerId: string;
  ownerName: string;
  repositoryId: string | null;
  repositoryName: string | null;
}

/** What a dashboard session may see and do: one account (or, for the admin, every account). */
export interface DashboardGrant {
  admin: boolean;
  /** The account it is for; null for the admin. */
  accountId: string | null;
  /** False when the link came from a credential that may not write the warm cache. */
  cacheWrite: boolean;
  /** A credential's run: the session sees only that run's builds. */
  runKey: string | null;
  /**
   * The secret that asked for the link, by kind and hash (null: the admin token): the session
   * lasts only while it still authenticates, so revoking the token or removing the credential's
   * trust relationship ends the session too.
   */
  signedInWith: SignInProof | null;
}

/** An API secret, as its kind and the hex SHA-256 its store looks it up by; never the secret. */
export interface SignInProof {
  kind: "agent" | "credential";
  hash: string;
}

/** Dashboard sign-in links and sessions, under the SHA-256 of their secret; both expire on their own. */
export interface DashboardSessionStore {
  putLink(hash: Buffer, grant: DashboardGrant, ttlMs: number): Promise<void>;
  /** Reads and deletes the link in one step: a second take of the same link gets null. */
  takeLink(hash: Buffer): Promise<DashboardGrant | null>;
  putSession(hash: Buffer, grant: DashboardGrant, ttlMs: number): Promise<void>;
  getSession(hash: Buffer): Promise<DashboardGrant | null>;
}

/** Hook installations (hook-installations.ts); their secrets are derived, never stored. */
export interface HookInstallationStore {
  create(installation: NewHookInstallation): Promise<HookInstallation>;
  list(): Promise<HookInstallation[]>;
  get(id: string): Promise<HookInstallation | null>;
  /** Every installation of one provider for one owner (several while a secret is rotated). */
  forOwner(provider: HookProvider, ownerId: string): Promise<HookInstallation[]>;
  remove(id: string): Promise<HookInstallation | null>;
}

/** The delivery ids a hook installation has received, kept for `ttlMs` to refuse replays. */
export interface HookDeliveryLog {
  /** Records the delivery; false when it was already recorded (a replay). */
  record(installationId: string, deliveryId: string, ttlMs: number): Promise<boolean>;
  /** Forgets a delivery the service failed to act on, so the CI's redelivery is taken. */
  forget(installationId: string, deliveryId: string): Promise<void>;
}
