/**
 * Trust relationships: which CI identities may act for an account, and which of their refs may
 * write its warm cache. Pure functions, table-tested in test/oidc/trust.test.ts.
 */
import type { CiIdentity } from "./ci-identity.js";

export interface TrustRelationship {
  id: string;
  accountId: string;
  /** The account's handle, for display and for naming the account in an exchange. */
  accountHandle: string;
  /** The configured issuer's name (`github`, `gitlab`, ...). */
  issuer: string;
  /** The owner's stable id; required, and the only thing an owner is matched by. */
  ownerId: string;
  /** The owner's name when the relationship was made: for display only, never matched. */
  ownerName: string | null;
  /** A single repository (project, pipeline) by id, or null for every one of the owner's. */
  repositoryId: string | null;
  repositoryName: string | null;
  /** Ref patterns that may build; empty: any ref. */
  refs: string[];
  /** Ref patterns whose builds may write the warm cache; others get a cold builder. */
  cacheWriteRefs: string[];
  /** Deployment environments that may build; null: any, or none. */
  environments: string[] | null;
  /** `job_workflow_ref` patterns that may build; null: any. */
  workflowRefs: string[] | null;
  /** Events that may build; null: every event but those in EVENTS_NEEDING_CONSENT. */
  events: string[] | null;
  createdAt: number;
}

export type NewTrustRelationship = Omit<TrustRelationship, "id" | "createdAt" | "accountHandle">;

/** Branches and tags write the cache unless told otherwise; pull-request refs never match these. */
export const DEFAULT_CACHE_WRITE_REFS = ["refs/heads/**", "refs/tags/**"];

/**
 * Events that run code from outside the repository with the repository's privileges: they get a
 * credential only when a relationship lists them by name.
 */
export const EVENTS_NEEDING_CONSENT = ["pull_request_target", "workflow_run"];

/** Events whose build runs a proposed change: never written to the warm cache, whatever the ref. */
export const PROPOSED_CHANGE_EVENTS = [
  "pull_request",
  "pull_request_target",
  "workflow_run",
  "merge_request_event",
  "external_pull_request_event",
];

const patterns = new Map<string, RegExp>();

/**
 * A ref or workflow pattern: `*` matches within one path segment, `**` across segments, every
 * other character itself. `refs/heads/*` matches `refs/heads/main`, not `refs/heads/a/b`.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    const source = pattern
      .split(/(\*\*|\*)/)
      .map((part) =>
        part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("");
    re = new RegExp(`^${source}$`);
    patterns.set(pattern, re);
  }
  return re.test(value);
}

const anyMatch = (list: string[], value: string | null) =>
  value !== null && list.some((p) => matchesPattern(p, value));

export interface CachePolicy {
  write: boolean;
  /** Why, in a sentence a person reads in the response and the build's cache reason. */
  reason: string;
}

export type TrustVerdict =
  | { ok: true; relationship: TrustRelationship; cache: CachePolicy }
  | {
      ok: false;
      kind: "no-trust-relationship" | "event-not-allowed";
      /** What the caller is told: its own job and what to ask an admin for. */
      detail: string;
      /** Why each of the owner's relationships refused the job: for the service, never the caller. */
      reasons: string[];
    };

/** Why `r` does not admit `identity`, or null when it does. `event` is checked last. */
export function mismatch(r: TrustRelationship, identity: CiIdentity): { event: boolean; why: string } | null {
  if (r.issuer !== identity.issuer || r.ownerId !== identity.ownerId) {
    return { event: false, why: `it trusts ${r.issuer} owner id ${r.ownerId}` };
  }
  if (r.repositoryId !== null && r.repositoryId !== identity.repositoryId) {
    return {
      event: false,
      why: `it admits only repository id ${r.repositoryId}${r.repositoryName ? ` (${r.repositoryName})` : ""}, not ${identity.repositoryId ?? "none"}`,
    };
  }
  if (r.refs.length > 0 && !anyMatch(r.refs, identity.ref)) {
    return { event: false, why: `it admits refs ${r.refs.join(", ")}, not ${identity.ref ?? "none"}` };
  }
  if (
    r.environments !== null &&
    (identity.environment === null || !r.environments.includes(identity.environment))
  ) {
    return {
      event: false,
      why: `it admits environments ${r.environments.join(", ")}, not ${identity.environment ?? "none"}`,
    };
  }
  if (r.workflowRefs !== null && !anyMatch(r.workflowRefs, identity.jobWorkflowRef)) {
    return {
      event: false,
      why: `it admits workflows ${r.workflowRefs.join(", ")}, not ${identity.jobWorkflowRef ?? "none"}`,
    };
  }
  const event = identity.eventName;
  const allowed =
    r.events !== null
      ? event !== null && r.events.includes(event)
      : event === null || !EVENTS_NEEDING_CONSENT.includes(event);
  if (!allowed) {
    return {
      event: true,
      why:
        r.events !== null
          ? `it admits events ${r.events.join(", ")}, not ${event ?? "none"}`
          : `${event} runs code from outside the repository, and it does not list ${event} in its events`,
    };
  }
  return null;
}

/** May a build of `identity`, admitted by `r`, write the warm cache? */
export function cachePolicy(r: TrustRelationship, identity: CiIdentity): CachePolicy {
  if (identity.eventName !== null && PROPOSED_CHANGE_EVENTS.includes(identity.eventName)) {
    return {
      write: false,
      reason: `a ${identity.eventName} build runs a proposed change, so it gets a cold builder and never writes the warm cache`,
    };
  }
  if (identity.ref === null && identity.unmappedRef !== null) {
    return {
      write: false,
      reason: `${identity.unmappedRef}, so it maps to no ref of the repository and gets a cold builder`,
    };
  }
  if (!anyMatch(r.cacheWriteRefs, identity.ref)) {
    return {
      write: false,
      reason: `${identity.ref ?? "this ref"} is not among the refs that may write the warm cache (${r.cacheWriteRefs.join(", ") || "none"}), so it gets a cold builder`,
    };
  }
  return { write: true, reason: `${identity.ref} may write the warm cache` };
}

/**
 * Picks the relationship that admits `identity` among `candidates` (one account's, or every
 * account's that trusts the owner). A relationship that lets the build write the cache wins over
 * one that does not, and a repository-specific one over an owner-wide one.
 */
export function matchTrust(identity: CiIdentity, candidates: TrustRelationship[]): TrustVerdict {
  const admitted: Array<{ relationship: TrustRelationship; cache: CachePolicy }> = [];
  const refusals: Array<{ relationship: TrustRelationship; event: boolean; why: string }> = [];
  for (const relationship of candidates) {
    const refused = mismatch(relationship, identity);
    if (refused) refusals.push({ relationship, ...refused });
    else admitted.push({ relationship, cache: cachePolicy(relationship, identity) });
  }
  if (admitted.length > 0) {
    admitted.sort(
      (a, b) =>
        Number(b.cache.write) - Number(a.cache.write) ||
        Number(b.relationship.repositoryId !== null) - Number(a.relationship.repositoryId !== null) ||
        a.relationship.createdAt - b.relationship.createdAt,
    );
    return { ok: true, ...admitted[0]! };
  }
  const owner = `${identity.issuer} owner id ${identity.ownerId}${identity.ownerName ? ` (${identity.ownerName})` : ""}`;
  // Why each relationship refused, for the service only: the caller is told nothing of other
  // relationships (their ids, or the refs, events and environments they admit), which may belong
  // to other accounts; it learns what to ask an admin for, in terms of its own job.
  const reasons = refusals
    .filter((r) => r.relationship.ownerId === identity.ownerId && r.relationship.issuer === identity.issuer)
    .map((r) => `relationship ${r.relationship.id}: ${r.why}`);
  const add = (more = "") =>
    `\`remote-builder admin trust add <account> --issuer ${identity.issuer} --owner-id ${identity.ownerId}` +
    `${identity.repositoryId ? ` --repository-id ${identity.repositoryId}` : ""}${more}\``;
  if (reasons.length === 0) {
    return {
      ok: false,
      kind: "no-trust-relationship",
      reasons,
      detail:
        `No account has a trust relationship for ${owner}. An admin adds one with ${add()}` +
        (identity.kind === "github" && identity.repository
          ? ` (or --repository ${identity.repository}, which pins the ids).`
          : "."),
    };
  }
  if (refusals.every((r) => r.event)) {
    return { ok: false, kind: "event-not-allowed", reasons, detail: eventRefusal(identity, owner, add) };
  }
  return {
    ok: false,
    kind: "no-trust-relationship",
    reasons,
    detail:
      `No trust relationship for ${owner} admits this job (${describeJob(identity)}). An admin compares it ` +
      `with \`remote-builder admin trust list <account>\` and widens a relationship, or adds one with ${add()}.`,
  };
}

/** What to do when the job's event alone kept every relationship from admitting it. */
function eventRefusal(identity: CiIdentity, owner: string, add: (more?: string) => string): string {
  const event = identity.eventName;
  if (event === null) {
    return `No trust relationship for ${owner} admits a job whose token names no event. An admin adds one without --event: ${add()}.`;
  }
  const consent = EVENTS_NEEDING_CONSENT.includes(event)
    ? `: ${event} runs code from outside the repository with its privileges, so only a relationship that lists it admits it`
    : "";
  return (
    `No trust relationship for ${owner} lets the event ${event} get a credential${consent}. ` +
    `If that is intended, an admin adds the event to one (${add(` --event ${event}`)}).`
  );
}

/** The job as its own token describes it: all a refusal may tell the caller, who knows it already. */
function describeJob(identity: CiIdentity): string {
  const repository = identity.repository ?? "repository";
  const ref = identity.ref ?? (identity.unmappedRef ? `no ref: ${identity.unmappedRef}` : "no ref");
  return [
    `${repository} id ${identity.repositoryId ?? "none"}`,
    ref,
    `event ${identity.eventName ?? "none"}`,
    identity.environment && `environment ${identity.environment}`,
    identity.jobWorkflowRef && `workflow ${identity.jobWorkflowRef}`,
  ]
    .filter(Boolean)
    .join(", ");
}
