import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { parseDuration } from "../client/duration.js";
import { VERSION } from "./version.js";

/**
 * What every command shares: its help, its flag parsing, how its result is printed and how it
 * exits. It imports nothing but Node's util, so that `--version` and `--help` start in a blink.
 */

/** The exit codes, as docs/cli.md and `--help` document them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notReady: 3 } as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  failed: the service refused or could not be reached, or the build ended
  2  usage error: an unknown command or option, or a value the option does not take
  3  setup only: the builder was not ready within --wait-timeout`;

/** A command line that cannot run as written: exits 2, saying what to change. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The flags every command takes besides its own. */
const EVERY_COMMAND = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean", default: false },
} as const;

export interface CommandSpec {
  /** The words after `remote-builder` that name it: "setup", "admin tokens list". */
  name: string;
  /** What `--help` prints: the usage line, what it does, its flags. */
  help: string;
  options: ParseArgsOptionsConfig;
  allowPositionals?: boolean;
}

type ParsedArgs<C extends CommandSpec> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: C["options"] & typeof EVERY_COMMAND;
    allowPositionals: true;
    strict: true;
  }>
>;

export type CommandRun = (args: string[]) => Promise<number>;

/**
 * A command from its spec and what it does with the parsed flags. `--help` or `-h` anywhere
 * before `--` prints its help and nothing else runs, even beside a flag it does not know: whoever
 * asks for help has not finished writing the command line.
 */
export function command<const C extends CommandSpec>(
  spec: C,
  run: (parsed: ParsedArgs<C>) => Promise<number>,
): CommandRun {
  return async (args) => {
    if (asksForHelp(args)) {
      process.stdout.write(`${spec.help}\n`);
      return EXIT.ok;
    }
    // The spread of the spec's options into parseArgs' loses their literal types; this restores them.
    return run(parseCommandLine(spec, args) as unknown as ParsedArgs<C>);
  };
}

function asksForHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

function parseCommandLine(spec: CommandSpec, args: string[]) {
  try {
    return parseArgs({
      args,
      options: { ...spec.options, ...EVERY_COMMAND },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    throw usageErrorOf(spec.name, err as Error & { code?: string });
  }
}

/** parseArgs' refusals, reworded to name the command and where its flags are listed. */
function usageErrorOf(name: string, err: Error & { code?: string }): Error {
  const seeHelp = `see \`remote-builder ${name} --help\``;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const option = /'([^']+)'/.exec(err.message)?.[1] ?? "";
      return new UsageError(`\`remote-builder ${name}\` has no option ${option}; ${seeHelp}`);
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const argument = /'([^']*)'/.exec(err.message)?.[1] ?? "";
      return new UsageError(`\`remote-builder ${name}\` takes no argument "${argument}"; ${seeHelp}`);
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(`${err.message.replace(/\.$/, "")}; ${seeHelp}`);
    default:
      return err;
  }
}

/** A duration flag ("90", "90s", "10m", "1h") in seconds; anything else is a usage error. */
export function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(flag, value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * The command's result on stdout: with --json the API's JSON as it came, for scripts; without,
 * `human`'s lines for people. Progress stays on stderr either way, so stdout is only the result.
 */
export function printResult<T>(json: boolean, result: T, human: (result: T) => string): void {
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${human(result)}\n`);
}

/**
 * Runs a command line to its exit code and exits once the output is written: waiting for the
 * event loop to drain (idle keep-alive sockets, a child's last handles) cost every job step a
 * tenth of a second (bench:headline). A thrown error is printed the one way every command prints
 * a failure.
 */
export function exitWith(run: Promise<number>): void {
  // Cannot reject: the first step turns every failure into an exit code, the last only exits.
  void run
    .then(
      (code) => code,
      (err: Error) => {
        process.stderr.write(`remote-builder: ${err.message}\n`);
        return exitCodeOf(err);
      },
    )
    .then((code) => {
      process.exitCode = code;
      process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
    });
}

function exitCodeOf(err: Error & { kind?: string }): number {
  if (err instanceof UsageError) return EXIT.usage;
  // The client's ApiError, told by its kind rather than by importing the client (and node:http) here.
  if (err.name === "ApiError" && err.kind === "wait-timeout") return EXIT.notReady;
  return EXIT.failed;
}

/**
 * The program's first word: a command from `commands`, `help [command…]` (`help admin trust add`
 * is `admin trust add --help`), or `version`. A missing or unknown command is a usage error.
 */
export async function dispatch(
  argv: string[],
  commands: Record<string, CommandRun>,
  help: string,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "version") {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const [topic, ...subtopic] = rest;
  const helpOf = name === "help" && topic !== undefined ? commands[topic] : undefined;
  if (helpOf) return helpOf([...subtopic, "--help"]);
  if (name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${help}\n`);
    return EXIT.ok;
  }
  if (name === undefined) {
    process.stderr.write(`${help}\n`);
    return EXIT.usage;
  }
  const run = commands[name];
  if (!run) {
    throw new UsageError(
      name.startsWith("-")
        ? `there is no option ${name} before the command; see \`remote-builder --help\``
        : `there is no command "${name}"; see \`remote-builder --help\``,
    );
  }
  return run(rest);
}

/**
 * A command made of sub-commands (`cache list`, `admin tokens create`): the next word picks one;
 * `--help` without one prints the group's help.
 */
export function commandGroup(name: string, help: string, members: Record<string, CommandRun>): CommandRun {
  return async (args) => {
    const [word, ...rest] = args;
    const member = word === undefined ? undefined : members[word];
    if (member) return member(rest);
    if (asksForHelp(args)) {
      process.stdout.write(`${help}\n`);
      return EXIT.ok;
    }
    const seeHelp = `see \`remote-builder ${name} --help\``;
    throw new UsageError(
      word === undefined || word.startsWith("-")
        ? `say what to do: remote-builder ${name} ${Object.keys(members).join("|")} …; ${seeHelp}`
        : `there is no command "${name} ${word}"; ${seeHelp}`,
    );
  };
}
