import { parseArgs } from "node:util";
import { adminToken, request, serverUrl } from "./http.js";
import { TRUST_OPTIONS, TRUST_USAGE, trustBody } from "./trust.js";

export const ADMIN_USAGE = `  remote-builder admin accounts create <handle> [--plan P] [limits]
  remote-builder admin accounts get <handle>
  remote-builder admin accounts update <handle> [--plan P] [limits]
  remote-builder admin accounts feature <handle> remote_builder on|off
  remote-builder admin tokens create <handle> [--name N]
  remote-builder admin tokens list <handle>
  remote-builder admin tokens revoke <handle> <token-id>
${TRUST_USAGE}
    limits: --concurrency N --minutes N --cache-gib N --shapes a,b --profile label=shape (repeatable)
    every admin command takes --server URL (RB_SERVER_URL, default http://127.0.0.1:8080) and
    --admin-token T (RB_ADMIN_TOKEN, else .data/admin-token from \`remote-builder dev\`)`;

const OPTIONS = {
  server: { type: "string" },
  "admin-token": { type: "string" },
  plan: { type: "string" },
  concurrency: { type: "string" },
  minutes: { type: "string" },
  "cache-gib": { type: "string" },
  shapes: { type: "string" },
  profile: { type: "string", multiple: true },
  name: { type: "string" },
  ...TRUST_OPTIONS,
} as const;

/** The admin API, from the command line. Prints the JSON the service answers. */
export async function adminCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  const [noun, verb, handle, ...rest] = positionals;
  const server = serverUrl(values.server);
  const call = (method: string, path: string, body?: unknown) =>
    request(server, adminToken(values["admin-token"]), method, path, body);
  const account = `/api/v1/admin/accounts/${encodeURIComponent(handle ?? "")}`;
  if (!handle) throw new Error(`name the account.\n\n${ADMIN_USAGE}`);

  switch (`${noun} ${verb}`) {
    case "accounts create":
      return call("POST", "/api/v1/admin/accounts", { handle, ...limits(values) });
    case "accounts get":
      return call("GET", account);
    case "accounts update":
      return call("PATCH", account, limits(values));
    case "accounts feature": {
      const [feature, state] = rest;
      if (!feature || (state !== "on" && state !== "off"))
        throw new Error("usage: accounts feature <handle> <feature> on|off");
      return call("PUT", `${account}/features/${encodeURIComponent(feature)}`, { enabled: state === "on" });
    }
    case "tokens create":
      return call("POST", `${account}/tokens`, values.name ? { name: values.name } : {});
    case "tokens list":
      return call("GET", `${account}/tokens`);
    case "tokens revoke":
      if (!rest[0]) throw new Error("usage: tokens revoke <handle> <token-id>");
      return call("DELETE", `${account}/tokens/${encodeURIComponent(rest[0])}`);
    case "trust add":
      return call("POST", `${account}/trust`, trustBody(values));
    case "trust list":
      return call("GET", `${account}/trust`);
    case "trust remove":
      if (!rest[0]) throw new Error("usage: trust remove <handle> <relationship-id>");
      return call("DELETE", `${account}/trust/${encodeURIComponent(rest[0])}`);
    default:
      throw new Error(`there is no admin command "${noun ?? ""} ${verb ?? ""}".\n\n${ADMIN_USAGE}`);
  }
}

function limits(values: { [K in keyof typeof OPTIONS]?: unknown }): Record<string, unknown> {
  // A mistyped flag is refused here, by name, rather than sent on as null or dropped.
  const number = (flag: string, v: unknown) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(String(v))) throw new Error(`--${flag} takes a whole number, not "${String(v)}"`);
    return Number(v);
  };
  const profile = (p: string) => {
    const at = p.indexOf("=");
    if (at <= 0 || at === p.length - 1) throw new Error(`--profile takes label=shape, not "${p}"`);
    return [p.slice(0, at), p.slice(at + 1)];
  };
  const profiles = values.profile as string[] | undefined;
  return {
    plan: values.plan,
    concurrencyLimit: number("concurrency", values.concurrency),
    monthlyBuildMinutes: number("minutes", values.minutes),
    cacheVolumeGiB: number("cache-gib", values["cache-gib"]),
    allowedShapes: (values.shapes as string | undefined)?.split(","),
    profiles: profiles ? Object.fromEntries(profiles.map(profile)) : undefined,
  };
}
