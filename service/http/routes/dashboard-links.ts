import { z } from "zod";
import type { DashboardAccess } from "../../core/dashboard-access.js";
import { bearerProof } from "../auth.js";
import { route, type RouteSpec } from "../route.js";

export const DashboardLink = z.object({
  path: z.string().describe("the one-time sign-in path, to open on this service's URL"),
  expiresAt: z.iso.datetime().describe("the link works once, until then"),
});

export function dashboardLinkRoutes(access: DashboardAccess): RouteSpec[] {
  return [
    route({
      method: "post",
      path: "/api/v1/dashboard/links",
      operationId: "createDashboardLink",
      summary:
        "A one-time sign-in link to the account's dashboard (the admin token's link sees every account)",
      tag: "dashboard",
      auth: "account",
      response: { status: 201, schema: DashboardLink, description: "The link's path and expiry" },
      problems: ["unauthorized"],
      async handle({ principal, req }) {
        const { token, expiresAt } = await access.mintLink(principal, principal ? bearerProof(req) : null);
        return {
          body: {
            path: `/dashboard/sign-in?token=${encodeURIComponent(token)}`,
            expiresAt: new Date(expiresAt).toISOString(),
          },
        };
      },
    }),
  ];
}
