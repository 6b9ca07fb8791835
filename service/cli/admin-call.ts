import { EXIT, printResult, UsageError } from "./command.js";
import { adminToken, request, serverUrl } from "./http.js";

/** What every admin command shares: the flags that say where the service is, and one request helper. */
export const ADMIN_OPTIONS = {
  server: { type: "string" },
  "admin-token": { type: "string" },
} as const;

export const ADMIN_OPTIONS_HELP = `  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --admin-token T       the admin token (RB_ADMIN_TOKEN; else .data/admin-token, which
                        \`remote-builder dev\` writes, read from this folder)
  --json                print the service's JSON, for scripts
  -h, --help            print this help`;

export interface AdminValues {
  server?: string | undefined;
  "admin-token"?: string | undefined;
  json: boolean;
}

/**
 * Sends one admin request and prints the answer: the service's JSON, or `human`'s lines when
 * there is a human form and --json is not given. A refusal is printed by `request` and exits 1.
 */
export async function send<Body>(
  values: AdminValues,
  call: { method: string; path: string; body?: unknown },
  human?: (body: Body) => string,
): Promise<number> {
  const server = serverUrl(values.server);
  const answer = await request(server, adminToken(values["admin-token"]), call.method, call.path, call.body);
  if (!answer.ok) return EXIT.failed;
  // The caller names the route, and with it the type of its answer (from the OpenAPI document).
  // Without a human form the JSON is printed, so the empty stand-in is never called.
  printResult(values.json || !human, answer.body as Body, human ?? (() => ""));
  return EXIT.ok;
}

/** The API path of the account `handle`. */
export const accountPath = (handle: string) => `/api/v1/admin/accounts/${encodeURIComponent(handle)}`;

/**
 * The positionals a command takes, all of them required: `names` as its usage line shows them
 * (`<handle>`, `<token-id>`). Missing or extra ones are a usage error that shows the line.
 */
export function argumentsOf<const Names extends readonly string[]>(
  command: string,
  positionals: string[],
  names: Names,
): { [K in keyof Names]: string } {
  const usage = `remote-builder ${command} ${names.join(" ")}`;
  if (positionals.length < names.length) {
    const missing = names[positionals.length]!;
    throw new UsageError(
      missing === "<handle>" ? `name the account: ${usage}` : `${command} needs ${missing}: ${usage}`,
    );
  }
  if (positionals.length > names.length) {
    throw new UsageError(
      `${command} takes ${names.join(" ")}, not also "${positionals[names.length]}": ${usage}`,
    );
  }
  return positionals as { [K in keyof Names]: string };
}
