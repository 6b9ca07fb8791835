import type { AccountService } from "../../core/account-service.js";
import type { Volume } from "../../core/ledger.js";
import type { VolumeService } from "../../core/volume-service.js";
import { visibleAccount } from "../account-access.js";
import { route, type RouteSpec } from "../route.js";
import { AccountParams, CacheVolume, CacheVolumeList, CacheVolumeParams } from "../schemas.js";

export function volumeRoutes(accounts: AccountService, volumes: VolumeService): RouteSpec[] {
  return [
    route({
      method: "get",
      path: "/api/v1/accounts/:account/cache-volumes",
      operationId: "listCacheVolumes",
      summary: "The account's cache volumes: name, size and when each was last used",
      tag: "cache",
      auth: "account",
      params: AccountParams,
      response: { status: 200, schema: CacheVolumeList, description: "Live cache volumes, by name" },
      problems: ["invalid-request", "unauthorized", "not-found"],
      async handle({ params, principal }) {
        const account = await visibleAccount(accounts, params.account, principal);
        return { body: { volumes: (await volumes.list(account)).map(volumeJson) } };
      },
    }),
    route({
      method: "delete",
      path: "/api/v1/accounts/:account/cache-volumes/:name",
      operationId: "resetCacheVolume",
      summary: "Reset a cache volume: its data is thrown away and the next build starts cold",
      tag: "cache",
      auth: "account",
      params: CacheVolumeParams,
      response: { status: 200, schema: CacheVolume, description: "The volume as it was when reset" },
      problems: ["invalid-request", "unauthorized", "not-found", "cache-write-not-allowed", "volume-in-use"],
      async handle({ params, principal }) {
        const account = await visibleAccount(accounts, params.account, principal);
        return { body: volumeJson(await volumes.reset(account, params.name, principal ?? {})) };
      },
    }),
  ];
}

function volumeJson(v: Volume) {
  return {
    name: v.name,
    sizeGiB: v.sizeGiB,
    createdAt: new Date(v.createdAt).toISOString(),
    lastUsedAt: new Date(v.lastUsedAt).toISOString(),
  };
}
