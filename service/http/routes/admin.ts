import type { AccountService } from "../../core/account-service.js";
import { route, type RouteSpec } from "../route.js";
import {
  AccountBody,
  AccountParams,
  AccountView,
  accountJson,
  CreateAccountBody,
  FeatureBody,
  FeatureParams,
  MintedToken,
  MintTokenBody,
  TokenList,
  TokenParams,
  TokenView,
  tokenJson,
} from "../schemas.js";

const ADMIN_PROBLEMS = ["unauthorized", "admin-required", "not-found"] as const;

export function adminRoutes(accounts: AccountService): RouteSpec[] {
  return [
    route({
      method: "post",
      path: "/api/v1/admin/accounts",
      operationId: "createAccount",
      summary: "Create an account; limits default to its plan's",
      tag: "admin",
      auth: "admin",
      body: CreateAccountBody,
      response: { status: 201, schema: AccountView, description: "The account" },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "conflict", "unknown-shape", "unsupported-media-type"],
      async handle({ body }) {
        return { body: accountJson(await accounts.create(body)) };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/admin/accounts/:account",
      operationId: "getAccount",
      summary: "An account, by id or handle",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      response: { status: 200, schema: AccountView, description: "The account" },
      problems: [...ADMIN_PROBLEMS],
      async handle({ params }) {
        return { body: accountJson(await accounts.get(params.account)) };
      },
    }),
    route({
      method: "patch",
      path: "/api/v1/admin/accounts/:account",
      operationId: "updateAccount",
      summary: "Change an account's plan or limits",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      body: AccountBody,
      response: { status: 200, schema: AccountView, description: "The account" },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "unknown-shape", "unsupported-media-type"],
      async handle({ params, body }) {
        return { body: accountJson(await accounts.update(params.account, body)) };
      },
    }),
    route({
      method: "put",
      path: "/api/v1/admin/accounts/:account/features/:feature",
      operationId: "setAccountFeature",
      summary: "Turn a feature flag (remote_builder) on or off",
      tag: "admin",
      auth: "admin",
      params: FeatureParams,
      body: FeatureBody,
      response: { status: 200, schema: AccountView, description: "The account" },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "unsupported-media-type"],
      async handle({ params, body }) {
        return { body: accountJson(await accounts.setFeature(params.account, params.feature, body.enabled)) };
      },
    }),
    route({
      method: "post",
      path: "/api/v1/admin/accounts/:account/tokens",
      operationId: "mintToken",
      summary: "Mint an agent token; the response is the only time it is shown",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      body: MintTokenBody,
      response: { status: 201, schema: MintedToken, description: "The token and its record" },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "unsupported-media-type"],
      async handle({ params, body }) {
        const { token, record } = await accounts.mintToken(params.account, body.name);
        return { body: { ...tokenJson(record), token }, headers: { "Cache-Control": "no-store" } };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/admin/accounts/:account/tokens",
      operationId: "listTokens",
      summary: "An account's agent tokens (never their secrets)",
      tag: "admin",
      auth: "admin",
      params: AccountParams,
      response: { status: 200, schema: TokenList, description: "Tokens" },
      problems: [...ADMIN_PROBLEMS],
      async handle({ params }) {
        return { body: { tokens: (await accounts.listTokens(params.account)).map(tokenJson) } };
      },
    }),
    route({
      method: "delete",
      path: "/api/v1/admin/accounts/:account/tokens/:token",
      operationId: "revokeToken",
      summary: "Revoke an agent token; it stops working at once",
      tag: "admin",
      auth: "admin",
      params: TokenParams,
      response: { status: 200, schema: TokenView, description: "The revoked token" },
      problems: [...ADMIN_PROBLEMS],
      async handle({ params }) {
        return { body: tokenJson(await accounts.revokeToken(params.account, params.token)) };
      },
    }),
  ];
}
