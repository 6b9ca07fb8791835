import type { Request } from "express";
import { z } from "zod";
import type { HookDeliveries, HookDelivery, HookLog, HookReceipt } from "../../core/hook-deliveries.js";
import { hookPath } from "../../core/hooks.js";
import { Problem } from "../../core/problems.js";
import type { Metrics } from "../metrics.js";
import { route, type RouteSpec } from "../route.js";

/** The most a hook delivery's body may hold: job events are a few KiB; GitHub's own 25 MB cap is far too much. */
export const HOOK_BODY_LIMIT = "1mb";

export const HookReceiptView = z.object({
  received: z.literal(true),
  prewarm: z
    .enum(["started", "skipped"])
    .describe(
      "started: a builder is booting for the job; skipped: none was needed or the delivery is ignored",
    ),
  reason: z.string().describe("why, in words that name no account"),
});

const PROBLEMS = [
  "signature-invalid",
  "delivery-replayed",
  "unknown-owner",
  "invalid-request",
  "payload-too-large",
  "unsupported-media-type",
  "unavailable",
] as const;

/** The deliveries CIs send: verified by the route's provider, then handed to the prewarmer. */
export function hookRoutes(deliveries: HookDeliveries, metrics: Metrics): RouteSpec[] {
  const receive = (provider: "github" | "gitlab", summary: string, body: z.ZodType, headers: string) =>
    route({
      method: "post",
      path: hookPath(provider),
      operationId: `${provider}Hook`,
      summary,
      tag: "hooks",
      auth: "none",
      rawBody: { schema: body, description: headers },
      response: {
        status: 200,
        schema: HookReceiptView,
        description: "Acted on (202, same body: received and ignored)",
      },
      problems: [...PROBLEMS],
      async handle({ req }) {
        const receipt = await counted(metrics, provider, () =>
          deliveries[provider](deliveryOf(req), requestLog(req)),
        );
        return { status: receipt.status, body: receipt.body };
      },
    });
  return [
    receive(
      "github",
      "A GitHub webhook delivery (workflow_job queued pre-warms the owner's accounts' builders; ping answers)",
      z.object({
        action: z.string().optional(),
        repository: z.object({ id: z.number(), owner: z.object({ id: z.number() }) }).optional(),
        workflow_job: z
          .object({
            name: z.string(),
            workflow_name: z.string().nullable(),
            head_branch: z.string().nullable(),
            created_at: z.string(),
          })
          .optional(),
      }),
      "Signed with X-Hub-Signature-256 (sha256=<hex HMAC-SHA256 of the body under the installation's secret); X-GitHub-Event and X-GitHub-Delivery as GitHub sends them.",
    ),
    receive(
      "gitlab",
      "A GitLab webhook delivery (a pending job's Job Hook pre-warms the namespace's accounts' builders)",
      z.object({
        object_kind: z.string(),
        build_status: z.string().optional(),
        build_name: z.string().optional(),
        project_id: z.number().optional(),
        ref: z.string().optional(),
        tag: z.boolean().optional(),
      }),
      "X-Gitlab-Token carries the installation's secret; X-Gitlab-Event, and Idempotency-Key or X-Gitlab-Event-UUID, as GitLab sends them.",
    ),
  ];
}

/** Counts the delivery by provider and outcome: accepted, ignored, or refused-<problem kind>. */
async function counted(metrics: Metrics, provider: string, receive: () => Promise<HookReceipt>) {
  try {
    const receipt = await receive();
    metrics.hookDelivery(provider, receipt.status === 200 ? "accepted" : "ignored");
    return receipt;
  } catch (err) {
    metrics.hookDelivery(provider, `refused-${err instanceof Problem ? err.kind : "internal"}`);
    throw err;
  }
}

function deliveryOf(req: Request): HookDelivery {
  const hasBody =
    Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (hasBody && !req.is("application/json")) {
    throw new Problem(
      "unsupported-media-type",
      `The delivery is ${req.headers["content-type"] ?? "of no declared type"}: set the hook's content type to application/json.`,
    );
  }
  return { headers: req.headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) };
}

function requestLog(req: Request): HookLog {
  const log = (req as { log?: { info(o: object, m: string): void; warn(o: object, m: string): void } }).log;
  return (level, message, fields) => log?.[level](fields, message);
}
