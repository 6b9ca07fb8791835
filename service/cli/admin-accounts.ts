import { ADMIN_OPTIONS, ADMIN_OPTIONS_HELP, accountPath, argumentsOf, send } from "./admin-call.js";
import { command, commandGroup, EXIT_CODES_HELP, UsageError } from "./command.js";

const LIMIT_OPTIONS = {
  plan: { type: "string" },
  concurrency: { type: "string" },
  minutes: { type: "string" },
  "cache-gib": { type: "string" },
  shapes: { type: "string" },
  profile: { type: "string", multiple: true },
} as const;

const LIMITS_HELP = `  --plan P              free, team, enterprise, or a plan the service defines (RB_PLANS)
  --concurrency N       builds the account may run at once
  --minutes N           build minutes a month
  --cache-gib N         the size of its cache volumes, in GiB
  --shapes a,b          the shapes its builds may ask for
  --profile LABEL=SHAPE
                        a profile builds may ask for by label; repeatable`;

const CREATE = {
  name: "admin accounts create",
  help: `Usage: remote-builder admin accounts create <handle> [options]

Creates an account. It builds nothing until its remote_builder feature is on
(remote-builder admin accounts feature <handle> remote_builder on). A limit not given comes from
the plan. Prints the account as JSON.

Options:
${LIMITS_HELP}
${ADMIN_OPTIONS_HELP}

Example:
  remote-builder admin accounts create acme --plan team --concurrency 4 --profile deploy=large

${EXIT_CODES_HELP}`,
  options: { ...ADMIN_OPTIONS, ...LIMIT_OPTIONS },
  allowPositionals: true,
} as const;

const GET = {
  name: "admin accounts get",
  help: `Usage: remote-builder admin accounts get <handle> [options]

Prints the account as JSON: its plan, limits, profiles and features.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

const UPDATE = {
  name: "admin accounts update",
  help: `Usage: remote-builder admin accounts update <handle> [options]

Changes the account's plan or limits; the next admission obeys them. Prints the account as JSON.

Options:
${LIMITS_HELP}
${ADMIN_OPTIONS_HELP}

Example:
  remote-builder admin accounts update acme --minutes 6000 --shapes small,medium

${EXIT_CODES_HELP}`,
  options: { ...ADMIN_OPTIONS, ...LIMIT_OPTIONS },
  allowPositionals: true,
} as const;

const FEATURE = {
  name: "admin accounts feature",
  help: `Usage: remote-builder admin accounts feature <handle> <feature> on|off [options]

Turns a feature of the account on or off; remote_builder is the one that lets it build.
Prints the account as JSON.

Options:
${ADMIN_OPTIONS_HELP}

Example:
  remote-builder admin accounts feature acme remote_builder on

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

export const ACCOUNTS_HELP = `Usage: remote-builder admin accounts <command> <handle> [options]

  remote-builder admin accounts create <handle> [--plan P] [limits]
  remote-builder admin accounts get <handle>
  remote-builder admin accounts update <handle> [--plan P] [limits]
  remote-builder admin accounts feature <handle> remote_builder on|off

remote-builder admin accounts <command> --help shows the command's options.`;

const createAccount = command(CREATE, async ({ values, positionals }) => {
  const [handle] = argumentsOf(CREATE.name, positionals, ["<handle>"]);
  return send(values, {
    method: "POST",
    path: "/api/v1/admin/accounts",
    body: { handle, ...limits(values) },
  });
});

const getAccount = command(GET, async ({ values, positionals }) => {
  const [handle] = argumentsOf(GET.name, positionals, ["<handle>"]);
  return send(values, { method: "GET", path: accountPath(handle) });
});

const updateAccount = command(UPDATE, async ({ values, positionals }) => {
  const [handle] = argumentsOf(UPDATE.name, positionals, ["<handle>"]);
  return send(values, { method: "PATCH", path: accountPath(handle), body: limits(values) });
});

const setFeature = command(FEATURE, async ({ values, positionals }) => {
  const [handle, feature, state] = argumentsOf(FEATURE.name, positionals, [
    "<handle>",
    "<feature>",
    "on|off",
  ]);
  if (state !== "on" && state !== "off") {
    throw new UsageError(
      `a feature is turned on or off, not "${state}": remote-builder ${FEATURE.name} <handle> <feature> on|off`,
    );
  }
  return send(values, {
    method: "PUT",
    path: `${accountPath(handle)}/features/${encodeURIComponent(feature)}`,
    body: { enabled: state === "on" },
  });
});

export const accountsCommand = commandGroup("admin accounts", ACCOUNTS_HELP, {
  create: createAccount,
  get: getAccount,
  update: updateAccount,
  feature: setFeature,
});

interface LimitValues {
  plan?: string | undefined;
  concurrency?: string | undefined;
  minutes?: string | undefined;
  "cache-gib"?: string | undefined;
  shapes?: string | undefined;
  profile?: string[] | undefined;
}

/** The limits the flags give, as the API names them; a mistyped one is refused here, by name, rather than sent on. */
function limits(values: LimitValues): Record<string, unknown> {
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} takes a whole number, not "${v}"`);
    return Number(v);
  };
  const profile = (p: string) => {
    const at = p.indexOf("=");
    if (at <= 0 || at === p.length - 1) throw new UsageError(`--profile takes label=shape, not "${p}"`);
    return [p.slice(0, at), p.slice(at + 1)];
  };
  return {
    plan: values.plan,
    concurrencyLimit: number("concurrency", values.concurrency),
    monthlyBuildMinutes: number("minutes", values.minutes),
    cacheVolumeGiB: number("cache-gib", values["cache-gib"]),
    allowedShapes: values.shapes?.split(","),
    profiles: values.profile ? Object.fromEntries(values.profile.map(profile)) : undefined,
  };
}
