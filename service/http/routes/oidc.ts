import { z } from "zod";
import type { IssuedCredential } from "../../core/account-credentials.js";
import type { OidcExchange } from "../../core/oidc-exchange.js";
import { bearerProof } from "../auth.js";
import { route, type RouteSpec } from "../route.js";

export const ExchangeBody = z
  .object({
    token: z
      .string()
      .min(1)
      .max(65_536)
      .describe(
        "the CI's OIDC identity token (GitHub Actions: core.getIDToken(audience); GitLab: id_tokens)",
      ),
    account: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,63}$/, "an account id or handle")
      .optional()
      .describe("the account to act for; needed only when several accounts trust the same job"),
  })
  .strict();

export const ExchangedCredential = z.object({
  credential: z
    .string()
    .describe("the account credential (rbc_…): send it as `Authorization: Bearer` to the build API"),
  tokenType: z.literal("Bearer"),
  expiresAt: z.iso.datetime(),
  expiresIn: z.number().int().describe("seconds until the credential expires (at most 3600)"),
  renewableUntil: z.iso
    .datetime()
    .describe(
      "until when POST /api/v1/auth/refresh renews it: the run's first exchange plus the build deadline",
    ),
  account: z.object({ id: z.string(), handle: z.string() }),
  trustRelationship: z.string().describe("the id of the trust relationship that admitted the token"),
  scope: z.object({
    issuer: z.string(),
    ownerId: z.string(),
    repositoryId: z.string().nullable(),
    repository: z.string().nullable(),
    ref: z.string().nullable(),
    workflow: z.string().nullable(),
    run: z.string().nullable(),
  }),
  cache: z
    .object({ write: z.boolean(), policy: z.string() })
    .describe(
      "whether builds with this credential may write the warm cache; when not, they get a cold builder",
    ),
});

export function oidcRoutes(exchange: OidcExchange): RouteSpec[] {
  return [
    route({
      method: "post",
      path: "/api/v1/auth/oidc",
      operationId: "exchangeOidcToken",
      summary:
        "Exchange a CI's OIDC identity token for a short-lived account credential, under the account's trust relationships",
      tag: "auth",
      auth: "none",
      body: ExchangeBody,
      response: {
        status: 200,
        schema: ExchangedCredential,
        description: "The credential and what it is scoped to",
      },
      problems: [
        "invalid-request",
        "invalid-token",
        "token-expired",
        "token-replayed",
        "wrong-audience",
        "unknown-issuer",
        "no-trust-relationship",
        "event-not-allowed",
        "unsupported-media-type",
        "payload-too-large",
        "unavailable",
      ],
      async handle({ body }) {
        return credentialReply(await exchange.exchange(body.token, body.account));
      },
    }),
    route({
      method: "post",
      path: "/api/v1/auth/refresh",
      operationId: "refreshCredential",
      summary:
        "Renew a live account credential (rbc_…) before it expires: a new one with the same scope; the old one stays good until its own expiry",
      tag: "auth",
      auth: "agent",
      response: {
        status: 200,
        schema: ExchangedCredential,
        description: "The new credential and what it is scoped to (the same as the old one's)",
      },
      problems: ["unauthorized", "refresh-not-allowed", "unavailable"],
      async handle({ req }) {
        return credentialReply(await exchange.refresh(bearerProof(req)));
      },
    }),
  ];
}

/** The exchange's and the refresh's answer: the credential and its scope, never cached. */
function credentialReply(x: IssuedCredential) {
  return {
    headers: { "Cache-Control": "no-store" },
    body: {
      credential: x.credential,
      tokenType: "Bearer",
      expiresAt: new Date(x.expiresAt).toISOString(),
      expiresIn: Math.floor(x.expiresInSeconds),
      renewableUntil: new Date(x.renewableUntil).toISOString(),
      account: x.account,
      trustRelationship: x.relationshipId,
      scope: x.scope,
      cache: { write: x.cache.write, policy: x.cache.reason },
    } satisfies z.input<typeof ExchangedCredential>,
  };
}
