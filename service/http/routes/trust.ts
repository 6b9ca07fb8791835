import { z } from "zod";
import type { TrustService } from "../../core/trust-service.js";
import type { TrustRelationship } from "../../core/trust.js";
import { route, type RouteSpec } from "../route.js";
import { AccountParams } from "../schemas.js";

const pattern = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");
const patterns = z.array(pattern).max(50);
const id = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "an id");

export const AddTrustBody = z
  .object({
    issuer: z
      .string()
      .optional()
      .describe("a configured issuer's name (RB_OIDC_ISSUERS); default: the first"),
    ownerId: id
      .optional()
      .describe("the owner's stable id (GitHub: repository_owner_id); or give owner/repository"),
    owner: z.string().max(39).optional().describe("a GitHub owner's name, resolved once to its id"),
    repositoryId: id.optional().describe("admit only this repository (GitHub: repository_id)"),
    repository: z.string().max(140).optional().describe("owner/repo on GitHub, resolved once to both ids"),
    refs: patterns
      .optional()
      .describe("ref patterns that may build (`*` within a segment, `**` across); default any"),
    cacheWriteRefs: patterns
      .optional()
      .describe("ref patterns whose builds may write the warm cache; default refs/heads/** and refs/tags/**"),
    environments: z
      .array(pattern)
      .max(50)
      .optional()
      .describe("deployment environments that may build; default any"),
    workflowRefs: patterns.optional().describe("job_workflow_ref patterns that may build; default any"),
    events: z
      .array(pattern)
      .max(50)
      .optional()
      .describe("events that may build; default every event but pull_request_target and workflow_run"),
  })
  .strict()
  .refine((b) => b.ownerId !== undefined || b.owner !== undefined || b.repository !== undefined, {
    message: "give ownerId, owner or repository",
    path: ["ownerId"],
  });

export const TrustView = z.object({
  id: z.string(),
  accountId: z.string(),
  issuer: z.string(),
  ownerId: z.string(),
  ownerName: z
    .string()
    .nullable()
    .describe("for display only: the owner's name when the relationship was made"),
  repositoryId: z.string().nullable(),
  repositoryName: z.string().nullable(),
  refs: z.array(z.string()),
  cacheWriteRefs: z.array(z.string()),
  environments: z.array(z.string()).nullable(),
  workflowRefs: z.array(z.string()).nullable(),
  events: z.array(z.string()).nullable(),
  createdAt: z.iso.datetime(),
});
const TrustList = z.object({ relationships: z.array(TrustView) });
const TrustParams = AccountParams.extend({ id: z.string().min(1) });

export function trustJson(r: TrustRelationship): z.infer<typeof TrustView> {
  return {
    id: r.id,
    accountId: r.accountId,
    issuer: r.issuer,
    ownerId: r.ownerId,
    ownerName: r.ownerName,
    repositoryId: r.repositoryId,
    repositoryName: r.repositoryName,
    refs: r.refs,
    cacheWriteRefs: r.cacheWriteRefs,
    environments: r.environments,
    workflowRefs: r.workflowRefs,
    events: r.events,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

const ADMIN_PROBLEMS = ["unauthorized", "admin-required", "not-found"] as const;

export function trustRoutes(trust: TrustService): RouteSpec[] {
  return [
    route({
      method: "post",
      path: "/api/v1/admin/accounts/:account/trust",
      operationId: "addTrustRelationship",
      summary:
        "Trust a CI owner (and optionally a repository, refs, environments, workflows, events) to act for the account",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      body: AddTrustBody,
      response: { status: 201, schema: TrustView, description: "The relationship, with the ids it pinned" },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "unsupported-media-type", "unavailable"],
      async handle({ params, body }) {
        return { body: trustJson(await trust.add(params.account, body)) };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/admin/accounts/:account/trust",
      operationId: "listTrustRelationships",
      summary: "The account's trust relationships",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      response: { status: 200, schema: TrustList, description: "Trust relationships" },
      problems: [...ADMIN_PROBLEMS],
      async handle({ params }) {
        return { body: { relationships: (await trust.list(params.account)).map(trustJson) } };
      },
    }),
    route({
      method: "delete",
      path: "/api/v1/admin/accounts/:account/trust/:id",
      operationId: "removeTrustRelationship",
      summary: "Remove a trust relationship; the credentials it admitted stop working at once",
      tag: "admin",
      auth: "admin",
      params: TrustParams,
      response: { status: 200, schema: TrustView, description: "The removed relationship" },
      problems: [...ADMIN_PROBLEMS],
      async handle({ params }) {
        return { body: trustJson(await trust.remove(params.account, params.id)) };
      },
    }),
  ];
}
