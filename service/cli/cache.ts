import { ApiClient, type CacheVolume } from "../client/api-client.js";
import { command, commandGroup, EXIT_CODES_HELP, printResult, UsageError } from "./command.js";
import { minute, table } from "./format.js";
import { serverUrl } from "./http.js";
import { cliCredential } from "./id-token.js";

const OPTIONS_HELP = `Options:
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN); without one, the CI's OIDC
                        identity token is exchanged, for the account named here
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --json                print the API's JSON, for scripts
  -h, --help            print this help`;

const OPTIONS = {
  server: { type: "string" },
  token: { type: "string" },
  audience: { type: "string", default: "remote-builder" },
} as const;

const LIST = {
  name: "cache list",
  help: `Usage: remote-builder cache list <account> [options]

The account's cache volumes: name, size, when made and when a build last used each.

${OPTIONS_HELP}

Example:
  remote-builder cache list acme --json | jq -r '.[].name'

${EXIT_CODES_HELP}`,
  options: OPTIONS,
  allowPositionals: true,
} as const;

const RESET = {
  name: "cache reset",
  help: `Usage: remote-builder cache reset <account> [<volume>] [options]

Throws a cache volume away (default: buildkit), so that the next build starts cold. Refused
while a build holds the volume.

${OPTIONS_HELP}

Example:
  remote-builder cache reset acme

${EXIT_CODES_HELP}`,
  options: OPTIONS,
  allowPositionals: true,
} as const;

export const CACHE_HELP = `Usage: remote-builder cache <command> <account> [options]

The account's cache volumes:
  remote-builder cache list <account>              list them
  remote-builder cache reset <account> [<volume>]  throw one away (default: buildkit), so the
                                                   next build starts cold

remote-builder cache <command> --help shows the command's options.`;

type Values = { [K in keyof typeof OPTIONS]?: string | undefined } & { audience: string };

/** The client for `account`, which is also the one to act for when several accounts trust the CI job. */
function clientFor(account: string, values: Values): ApiClient {
  const server = serverUrl(values.server);
  return new ApiClient({
    serverUrl: server,
    auth: cliCredential(server, { ...values, account }),
    userAgent: "remote-builder-cli/1",
  });
}

/** The one positional these commands need first, or a usage error naming it. */
function accountOf(name: string, positionals: string[], atMost: number): string {
  const [account] = positionals;
  if (!account) throw new UsageError(`name the account: remote-builder ${name} <account>`);
  if (positionals.length > atMost) {
    throw new UsageError(`\`remote-builder ${name}\` takes no argument "${positionals[atMost]}"`);
  }
  return account;
}

const listCommand = command(LIST, async ({ values, positionals }) => {
  const account = accountOf(LIST.name, positionals, 1);
  const volumes = await clientFor(account, values).listCacheVolumes(account);
  printResult(values.json, volumes, (all) => volumesTable(account, all));
  return 0;
});

const resetCommand = command(RESET, async ({ values, positionals }) => {
  const account = accountOf(RESET.name, positionals, 2);
  const volume = positionals[1] ?? "buildkit";
  const reset = await clientFor(account, values).resetCacheVolume(account, volume);
  printResult(values.json, reset, () => `Reset cache volume "${volume}": the next build starts cold.`);
  return 0;
});

export const cacheCommand = commandGroup("cache", CACHE_HELP, { list: listCommand, reset: resetCommand });

function volumesTable(account: string, volumes: CacheVolume[]): string {
  if (volumes.length === 0) return `The account ${account} has no cache volumes.`;
  return table(
    ["VOLUME", "SIZE", "CREATED", "LAST USED"],
    volumes.map((v) => [v.name, `${v.sizeGiB} GiB`, minute(v.createdAt), minute(v.lastUsedAt)]),
  );
}
