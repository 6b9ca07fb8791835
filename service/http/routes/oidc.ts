import { z } from "zod";
import type { OidcExchange } from "../../core/oidc-exchange.js";
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
        const x = await exchange.exchange(body.token, body.account);
        return {
          headers: { "Cache-Control": "no-store" },
          body: {
            credential: x.credential,
            tokenType: "Bearer",
            expiresAt: new Date(x.expiresAt).toISOString(),
            expiresIn: Math.floor(x.expiresInSeconds),
            account: x.account,
            trustRelationship: x.relationship.id,
            scope: {
              issuer: x.identity.issuer,
              ownerId: x.identity.ownerId,
              repositoryId: x.identity.repositoryId,
              repository: x.identity.repository,
              ref: x.identity.ref,
              workflow: x.identity.workflow,
              run: x.identity.run,
            },
            cache: { write: x.cache.write, policy: x.cache.reason },
          },
        };
      },
    }),
  ];
}
