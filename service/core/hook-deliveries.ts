import { githubEvent, githubOwnerId, gitlabEvent, type HookEvent, jsonObject } from "./hook-events.js";
import { hmacSha256, hookSecret, installationOfSecret, sameMac, sameSecret } from "./hook-secrets.js";
import { type HookInstallation, hooksOff } from "./hooks.js";
import type { Clock, HookDeliveryLog, HookInstallationStore } from "./ports.js";
import type { Prewarmer, PrewarmOutcome } from "./prewarm.js";
import { Problem } from "./problems.js";

/**
 * Receiving a CI's hook delivery: verify it against the secret of its owner's installation, refuse
 * a replay, and hand a queued job to the prewarmer. The answer goes back to the CI, whose delivery
 * log the repository's admins read: it says whether a builder is starting, never which accounts
 * trust the owner nor what each decided (that is logged, under the delivery id).
 */

/**
 * How long a delivery id is remembered: past GitHub's redelivery window (a delivery of the last 3
 * days can be redelivered, with its id) and GitLab's webhook request history (a request can be
 * resent with its Idempotency-Key from there), with a margin. Older redeliveries are stale anyway.
 */
export const DELIVERY_RETENTION_MS = 7 * 86_400_000;

const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HookDelivery {
  /** Request headers, by lower-case name. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as received: signatures are over these bytes. */
  body: Buffer;
}

export interface HookReceipt {
  /** 200: acted on (a ping answered, a job handed over); 202: received and ignored. */
  status: 200 | 202;
  body: { received: true; prewarm: "started" | "skipped"; reason: string };
}

/** Where this delivery's refusals and per-account outcomes are logged (never a secret or signature). */
export type HookLog = (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;

export class HookDeliveries {
  constructor(
    private readonly deps: {
      installations: HookInstallationStore;
      deliveries: HookDeliveryLog;
      prewarmer: Prewarmer;
      /** RB_HOOK_SECRET_KEY's bytes; null when hooks are off. */
      key: Buffer | null;
      clock: Clock;
      /** A queued job older than this is acknowledged and ignored (RB_HOOK_STALE_SECONDS). */
      staleAfterMs: number;
    },
  ) {}

  /** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, under the owner's secret. */
  async github(delivery: HookDelivery, log: HookLog): Promise<HookReceipt> {
    const { key, prewarmer } = this.ready();
    const mac = githubSignature(header(delivery, "x-hub-signature-256"));
    const payload = jsonObject(delivery.body);
    const event = header(delivery, "x-github-event") ?? "";
    const ownerId = githubOwnerId(payload);
    if (ownerId === null) {
      // A GitHub App's ping names no owner: there is no installation to check it against.
      if (event === "ping")
        return ignored("the ping names no owner, so it is not checked; job deliveries are");
      githubEvent(event, payload); // says which id is missing, when the event needs one
      return ignored(`${event} deliveries without a repository do not pre-warm`);
    }
    const installations = await this.deps.installations.forOwner("github", ownerId);
    const installation = installations.find((i) =>
      sameMac(hmacSha256(hookSecret(key, i.id), delivery.body), mac),
    );
    if (!installation) {
      log("info", "hook delivery refused", {
        provider: "github",
        delivery: deliveryIdOf(delivery, "x-github-delivery"),
        ownerId,
        why: installations.length === 0 ? "no installation for the owner" : "signature does not match",
      });
      throw signatureInvalid(
        `The delivery's X-Hub-Signature-256 matches the secret of no hook installation for its owner (id ${ownerId}): give the hook the secret \`remote-builder admin hooks add\` printed for this owner, or ask the service's admin to add an installation for it.`,
      );
    }
    const deliveryId = requiredDeliveryId(delivery, ["X-GitHub-Delivery"]);
    return this.act(installation, deliveryId, githubEvent(event, payload), prewarmer, log);
  }

  /** GitLab: the installation's secret itself, in `X-Gitlab-Token`; the secret names the installation. */
  async gitlab(delivery: HookDelivery, log: HookLog): Promise<HookReceipt> {
    const { key, prewarmer } = this.ready();
    const token = header(delivery, "x-gitlab-token");
    if (token === null) {
      throw signatureInvalid(
        "The delivery has no X-Gitlab-Token: set the hook's Secret token to the secret `remote-builder admin hooks add --provider gitlab` printed.",
      );
    }
    const id = installationOfSecret(token);
    const installation = id === null ? null : await this.deps.installations.get(id);
    if (installation?.provider !== "gitlab" || !sameSecret(token, hookSecret(key, installation.id))) {
      log("info", "hook delivery refused", {
        provider: "gitlab",
        delivery: deliveryIdOf(delivery, "idempotency-key", "x-gitlab-event-uuid"),
        why: installation === null ? "no such installation" : "token does not match",
      });
      throw signatureInvalid(
        "The delivery's X-Gitlab-Token is the secret of no GitLab hook installation: it was removed, or the token was mistyped. Set the hook's Secret token to the one `remote-builder admin hooks add` printed.",
      );
    }
    const payload = jsonObject(delivery.body);
    // Idempotency-Key (GitLab 17.4+) is kept across a hook's retries and resends; X-Gitlab-Event-UUID before it.
    const deliveryId = requiredDeliveryId(delivery, ["Idempotency-Key", "X-Gitlab-Event-UUID"]);
    const event = gitlabEvent(
      header(delivery, "x-gitlab-event") ?? "",
      payload,
      installation.ownerId,
      this.deps.clock.now(),
    );
    return this.act(installation, deliveryId, event, prewarmer, log);
  }

  private ready(): { key: Buffer; prewarmer: Prewarmer } {
    if (this.deps.key === null) throw hooksOff();
    return { key: this.deps.key, prewarmer: this.deps.prewarmer };
  }

  /** A verified delivery: recorded once, then answered or handed to the prewarmer. */
  private async act(
    installation: HookInstallation,
    deliveryId: string,
    event: HookEvent,
    prewarmer: Prewarmer,
    log: HookLog,
  ): Promise<HookReceipt> {
    const fields = { provider: installation.provider, installation: installation.id, delivery: deliveryId };
    if (!(await this.deps.deliveries.record(installation.id, deliveryId, DELIVERY_RETENTION_MS))) {
      log("info", "hook delivery refused", { ...fields, why: "replayed" });
      throw new Problem(
        "delivery-replayed",
        `The delivery ${deliveryId} was already received; it is acted on once.`,
      );
    }
    if (event.kind === "ping") {
      return {
        status: 200,
        body: { received: true, prewarm: "skipped", reason: "pong: the hook's secret is valid" },
      };
    }
    if (event.kind === "ignored") return ignored(event.reason);
    const age = this.deps.clock.now() - event.job.queuedAt;
    if (age > this.deps.staleAfterMs) {
      log("info", "hook delivery ignored", { ...fields, why: "stale", ageMs: age });
      return ignored(
        `the job was queued ${Math.round(age / 1000)} s ago, longer than the ${Math.round(this.deps.staleAfterMs / 1000)} s after which pre-warming would come too late`,
      );
    }
    const job = { ...event.job, provider: installation.provider, issuer: installation.issuer, deliveryId };
    let outcomes: PrewarmOutcome[];
    try {
      outcomes = await prewarmer.jobQueued(job);
    } catch (err) {
      // Not acted on: a redelivery of it must be taken. An owner no account trusts is an answer.
      if (!(err instanceof Problem && err.kind === "unknown-owner")) {
        await this.deps.deliveries.forget(installation.id, deliveryId).catch(() => {});
      }
      throw err;
    }
    for (const o of outcomes) {
      log("info", "hook pre-warm outcome", {
        ...fields,
        ownerId: job.ownerId,
        repositoryId: job.repositoryId,
        account: o.accountId,
        outcome: o.outcome,
        reason: o.reason,
      });
    }
    const started = outcomes.some((o) => o.outcome === "started");
    return {
      status: 200,
      body: started
        ? { received: true, prewarm: "started", reason: "a builder is starting for the job" }
        : {
            received: true,
            prewarm: "skipped",
            reason: `no builder needed starting; the service's log says why, under delivery ${deliveryId}`,
          },
    };
  }
}

function ignored(reason: string): HookReceipt {
  return { status: 202, body: { received: true, prewarm: "skipped", reason } };
}

function signatureInvalid(detail: string): Problem {
  return new Problem("signature-invalid", detail);
}

function header(delivery: HookDelivery, name: string): string | null {
  const value = delivery.headers[name.toLowerCase()];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one === "" ? null : one;
}

/** The MAC an `X-Hub-Signature-256` header carries, or a 401 that says what is wrong with it. */
function githubSignature(value: string | null): Buffer {
  if (value === null) {
    throw signatureInvalid(
      "The delivery has no X-Hub-Signature-256 header: set the hook's secret to the one `remote-builder admin hooks add` printed.",
    );
  }
  const hex = /^sha256=([0-9a-fA-F]{64})$/.exec(value)?.[1];
  if (!hex) throw signatureInvalid("The delivery's X-Hub-Signature-256 is not sha256=<64 hex digits>.");
  return Buffer.from(hex, "hex");
}

/** The delivery's id, for a log line, when it has a sane one. */
function deliveryIdOf(delivery: HookDelivery, ...names: string[]): string | null {
  for (const name of names) {
    const value = header(delivery, name);
    if (value !== null && DELIVERY_ID.test(value)) return value;
  }
  return null;
}

function requiredDeliveryId(delivery: HookDelivery, names: string[]): string {
  const id = deliveryIdOf(delivery, ...names);
  if (id === null) {
    throw new Problem(
      "invalid-request",
      `The delivery has no usable ${names.join(" or ")} header (at most 128 letters, digits and ._:-), which tells one delivery from a replay of it.`,
    );
  }
  return id;
}
