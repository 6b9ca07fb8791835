import type { AccountService } from "../../core/account-service.js";
import { monthStart } from "../../core/admission.js";
import type { Clock, LedgerStore } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";
import { type Prices, usageReport } from "../../core/usage.js";
import { visibleAccount } from "../account-access.js";
import { route, type RouteSpec } from "../route.js";
import { AccountParams, LedgerPage, LedgerQuery, UsageQuery, UsageView } from "../schemas.js";

export interface UsageRouteDeps {
  accounts: AccountService;
  ledger: LedgerStore;
  prices: Prices | null;
  clock: Clock;
}

export function usageRoutes({ accounts, ledger, prices, clock }: UsageRouteDeps): RouteSpec[] {
  return [
    route({
      method: "get",
      path: "/api/v1/accounts/:account/usage",
      operationId: "getUsage",
      summary:
        "Build minutes by shape, cache storage GiB-hours and, when prices are set, costs (default: this month)",
      tag: "usage",
      auth: "account",
      params: AccountParams,
      query: UsageQuery,
      response: { status: 200, schema: UsageView, description: "Usage over [from, to)" },
      problems: ["invalid-request", "unauthorized", "not-found"],
      async handle({ params, query, principal }) {
        const account = await visibleAccount(accounts, params.account, principal);
        const now = clock.now();
        const from = query.from ?? monthStart(now);
        const to = query.to ?? now;
        if (from >= to) {
          throw new Problem("invalid-request", "`from` must be before `to`.", {
            errors: [{ path: "query.from", message: "must be before to" }],
          });
        }
        const report = usageReport(await ledger.usage(account.id, from, to), prices);
        return {
          body: {
            account: account.handle,
            from: new Date(from).toISOString(),
            to: new Date(to).toISOString(),
            ...report,
          },
        };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/ledger",
      operationId: "exportLedger",
      summary: "The ledger for the billing system, in pages: pass the returned cursor as `after`",
      tag: "usage",
      auth: "admin",
      query: LedgerQuery,
      response: {
        status: 200,
        schema: LedgerPage,
        description: "Entries after the cursor, and the next cursor",
      },
      problems: ["invalid-request", "unauthorized", "admin-required"],
      async handle({ query }) {
        const page = await ledger.page(query.after ?? null, query.limit);
        const iso = (ms: number) => new Date(ms).toISOString();
        return {
          body: {
            entries: page.entries.map((e) => ({
              ...e,
              startedAt: iso(e.startedAt),
              endedAt: iso(e.endedAt),
              recordedAt: iso(e.recordedAt),
            })),
            cursor: page.cursor,
          },
        };
      },
    }),
  ];
}
