import { z } from "zod";
import { type Resolved, resolve, variablesOf } from "./config/variable.js";
import { DECLARATIONS } from "./config/variables.js";

/**
 * The one place the service reads its environment. Parsed once at start; a bad start lists every
 * missing or invalid variable with what it expects. The variables are declared in
 * config/variables.ts, where the nested configuration, its type and docs/configuration.md come from.
 */

export type Config = Resolved<typeof DECLARATIONS>;
export type KubernetesConfig = Config["kubernetes"];

/** Every variable, in the reference's order. */
export const VARIABLES = variablesOf(DECLARATIONS);

const ENV = z.object(Object.fromEntries(VARIABLES.map((v) => [v.name, v.schema])));
const DESCRIPTIONS = new Map(VARIABLES.map((v) => [v.name, v.description]));

export interface LoadOptions {
  /**
   * The caller hands the service its driver (the tests' memory driver, or `dev`'s where buildkitd
   * is missing), so RB_DRIVER may be unset. `serve` does not: without RB_DRIVER it refuses to
   * start rather than admit and bill builds that nothing runs.
   */
  driverInjected?: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `The service cannot start; fix these environment variables:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const parsed = ENV.safeParse(env);
  const driverMissing = !options.driverInjected && env.RB_DRIVER === undefined;
  const problems = driverMissing
    ? [withExpected("RB_DRIVER", "missing; set RB_DRIVER=local or RB_DRIVER=kubernetes")]
    : [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "environment");
      if (env[name] === undefined && issue.code === "invalid_type")
        problems.push(withExpected(name, "missing"));
      else problems.push(withExpected(name, issue.message));
    }
    throw new ConfigError(ordered(problems));
  }
  const config = resolve(DECLARATIONS, parsed.data);
  for (const [name, message] of crossFieldProblems(config, parsed.data))
    problems.push(withExpected(name, message));
  if (problems.length > 0) throw new ConfigError(ordered(problems));
  return config;
}

function withExpected(name: string, message: string): string {
  const expected = DESCRIPTIONS.get(name);
  return `${name}: ${message}${expected ? ` (${expected})` : ""}`;
}

/** In the variables' order, as the reference lists them. */
function ordered(problems: string[]): string[] {
  const rank = (p: string) => {
    const i = VARIABLES.findIndex((v) => p.startsWith(`${v.name}:`));
    return i === -1 ? VARIABLES.length : i;
  };
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

type Problem = [variable: string, message: string];

/**
 * What no single variable can check: the catalog, the plans and the defaults against each other,
 * and what the kubernetes driver needs. `values` are the variables as parsed, by name.
 */
function crossFieldProblems(config: Config, values: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const shapes = Object.keys(config.shapes);
  if (!shapes.includes(config.defaultShape)) {
    problems.push([
      "RB_DEFAULT_SHAPE",
      `"${config.defaultShape}" is not in RB_SHAPES (${shapes.join(", ")})`,
    ]);
  }
  if (!(config.defaultPlan in config.plans)) {
    problems.push(["RB_DEFAULT_PLAN", `"${config.defaultPlan}" is not in RB_PLANS`]);
  }
  if ((values.RB_CA_CERT_FILE === undefined) !== (values.RB_CA_KEY_FILE === undefined)) {
    problems.push(["RB_CA_KEY_FILE", "RB_CA_CERT_FILE and RB_CA_KEY_FILE go together"]);
  }
  const names = config.oidc.issuers.map((i) => i.name);
  const urls = config.oidc.issuers.map((i) => i.issuer);
  if (new Set(names).size !== names.length || new Set(urls).size !== urls.length) {
    problems.push(["RB_OIDC_ISSUERS", "each issuer needs its own name and its own issuer URL"]);
  }
  problems.push(...kubernetesProblems(config));
  const unknownPools = Object.keys(config.warmPool).filter((s) => !shapes.includes(s));
  if (unknownPools.length > 0) {
    problems.push(["RB_WARM_POOL", `shapes missing from RB_SHAPES: ${unknownPools.join(", ")}`]);
  }
  for (const [name, p] of Object.entries(config.plans)) {
    const unknown = p.allowedShapes.filter((s) => !shapes.includes(s));
    if (unknown.length > 0) {
      problems.push([
        "RB_PLANS",
        `plan "${name}" allows shapes missing from RB_SHAPES: ${unknown.join(", ")}`,
      ]);
    }
  }
  return problems;
}

function kubernetesProblems(config: Config): Problem[] {
  if (config.driver !== "kubernetes") return [];
  const { buildkitImage, formatImage, volumeMode } = config.kubernetes;
  const problems: Problem[] = [];
  // "" is an unset image (config/variables.ts): a set one is pinned by digest.
  if (buildkitImage === "") problems.push(["RB_K8S_BUILDKIT_IMAGE", "is required by the kubernetes driver"]);
  // Filesystem volumes are never formatted: only Block ones need the format image.
  if (formatImage === null && volumeMode === "Block") {
    problems.push(["RB_K8S_FORMAT_IMAGE", "is required by the kubernetes driver"]);
  }
  return problems;
}
