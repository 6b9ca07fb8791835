import { z } from "zod";
import type { HookInstallations } from "../../core/hook-installations.js";
import { HOOK_PROVIDERS, type HookInstallation } from "../../core/hooks.js";
import { route, type RouteSpec } from "../route.js";

export const AddHookBody = z
  .object({
    provider: z
      .string()
      .max(32)
      .describe(`the CI: ${HOOK_PROVIDERS.join(", ")}`),
    ownerId: z
      .string()
      .max(64)
      .describe("the owner's stable id, as the CI's OIDC tokens carry it (GitHub: repository_owner_id)"),
    issuer: z
      .string()
      .max(64)
      .optional()
      .describe(
        "the issuer name the owner's trust relationships use; default the first of the provider's kind",
      ),
    ownerName: z.string().max(140).optional().describe("for display only"),
  })
  .strict();

export const HookInstallationView = z.object({
  id: z.string(),
  provider: z.enum(HOOK_PROVIDERS),
  issuer: z.string(),
  ownerId: z.string(),
  ownerName: z.string().nullable(),
  createdAt: z.iso.datetime(),
});
const HookInstallationList = z.object({ installations: z.array(HookInstallationView) });
const NewHookView = HookInstallationView.extend({
  secret: z.string().describe("the hook's secret; shown this once and never again"),
  path: z.string().describe("where the CI sends deliveries, on this service's public URL"),
  settings: z
    .array(z.object({ name: z.string(), value: z.string() }))
    .describe("what to set on the CI's hook beside the URL and the secret"),
});
const HookParams = z.object({ id: z.string().min(1).max(64) });

export function installationJson(i: HookInstallation): z.infer<typeof HookInstallationView> {
  return {
    id: i.id,
    provider: i.provider,
    issuer: i.issuer,
    ownerId: i.ownerId,
    ownerName: i.ownerName,
    createdAt: new Date(i.createdAt).toISOString(),
  };
}

const ADMIN_PROBLEMS = ["unauthorized", "admin-required"] as const;

export function hookInstallationRoutes(installations: HookInstallations): RouteSpec[] {
  return [
    route({
      method: "post",
      path: "/api/v1/admin/hooks",
      operationId: "addHookInstallation",
      summary:
        "Let a CI owner's hook announce queued jobs; the response is the only time its secret is shown",
      tag: "admin",
      auth: "admin",
      body: AddHookBody,
      response: {
        status: 201,
        schema: NewHookView,
        description: "The installation, its secret and the CI settings",
      },
      problems: [...ADMIN_PROBLEMS, "invalid-request", "unsupported-media-type", "unavailable"],
      async handle({ body }) {
        const added = await installations.add(body);
        return {
          body: {
            ...installationJson(added.installation),
            secret: added.secret,
            path: added.path,
            settings: added.settings,
          },
          headers: { "Cache-Control": "no-store" },
        };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/admin/hooks",
      operationId: "listHookInstallations",
      summary: "Every hook installation (never their secrets)",
      tag: "admin",
      auth: "admin",
      response: { status: 200, schema: HookInstallationList, description: "Hook installations" },
      problems: [...ADMIN_PROBLEMS],
      async handle() {
        return { body: { installations: (await installations.list()).map(installationJson) } };
      },
    }),
    route({
      method: "delete",
      path: "/api/v1/admin/hooks/:id",
      operationId: "removeHookInstallation",
      summary: "Remove a hook installation; its secret stops working at once",
      tag: "admin",
      auth: "admin",
      params: HookParams,
      response: { status: 200, schema: HookInstallationView, description: "The removed installation" },
      problems: [...ADMIN_PROBLEMS, "not-found"],
      async handle({ params }) {
        return { body: installationJson(await installations.remove(params.id)) };
      },
    }),
  ];
}
