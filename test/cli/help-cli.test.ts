import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { ROOT } from "../harness/action-job.js";
import type { Run } from "./cli-job.js";

const BIN = join(ROOT, "bin/remote-builder.js");
const JOB_MAIN = join(ROOT, "service/cli/job-main.ts");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** The CLI in a child process, with no service anywhere: `nodeArgs` go before the script. */
function cli(
  args: string[],
  nodeArgs: string[] = [],
  script = BIN,
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [...nodeArgs, script, ...args],
      {
        cwd: ROOT,
        timeout: 30_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, RB_SERVER_URL: "http://127.0.0.1:9", ...env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Every command and sub-command, as typed after `remote-builder`. */
const COMMANDS = [
  "setup",
  "finish",
  "status",
  "usage",
  "keep-alive",
  "cache",
  "cache list",
  "cache reset",
  "dev",
  "serve",
  "admin",
  "admin accounts",
  "admin accounts create",
  "admin accounts get",
  "admin accounts update",
  "admin accounts feature",
  "admin tokens",
  "admin tokens create",
  "admin tokens list",
  "admin tokens revoke",
  "admin trust",
  "admin trust add",
  "admin trust list",
  "admin trust remove",
];

describe("remote-builder --help, --version and usage errors", () => {
  it.each(COMMANDS)("prints the usage of `%s` for --help and -h, on stdout, and exits 0", async (command) => {
    const words = command.split(" ");
    const [long, short] = await Promise.all([cli([...words, "--help"]), cli([...words, "-h"])]);
    expect(long).toMatchObject({ code: 0, stderr: "" });
    expect(long.stdout).toMatch(new RegExp(`^Usage: remote-builder ${command}[ \\n]`));
    expect(short).toEqual(long);
  });

  it("prints a command's help even beside options it does not know, and for `help <command>`", async () => {
    const [alone, beside, word] = await Promise.all([
      cli(["setup", "--help"]),
      cli(["setup", "--shpae", "large", "--help"]),
      cli(["help", "setup"]),
    ]);
    expect(alone.stdout).toContain("--wait-timeout D");
    expect(alone.stdout).toContain("90, 90s, 10m or 1h (default: 10m)");
    expect(alone.stdout).toContain("3  setup only: the builder was not ready within --wait-timeout");
    expect(beside).toEqual(alone);
    expect(word).toEqual(alone);
  });

  it("lists the commands and the exit codes for --help, help and -h", async () => {
    const [long, word, short] = await Promise.all([cli(["--help"]), cli(["help"]), cli(["-h"])]);
    expect(long).toMatchObject({ code: 0, stderr: "" });
    for (const command of ["setup", "finish", "status", "cache", "usage", "dev", "serve", "admin"]) {
      expect(long.stdout).toMatch(new RegExp(`^  ${command} +\\S`, "m"));
    }
    expect(long.stdout).toContain("2  usage error");
    expect(long.stdout).not.toMatch(/keep-alive/);
    expect(word).toEqual(long);
    expect(short).toEqual(long);
  });

  it("prints the package's version for --version and `version`, on both entry points", async () => {
    const [flag, word, jobFlag, jobWord] = await Promise.all([
      cli(["--version"]),
      cli(["version"]),
      cli(["--version"], ["--import", "tsx"], JOB_MAIN),
      cli(["version"], ["--import", "tsx"], JOB_MAIN),
    ]);
    for (const run of [flag, word, jobFlag, jobWord])
      expect(run).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it("refuses an unknown option with exit code 2, naming it and the command's --help", async () => {
    const [setup, cacheList, create, usage] = await Promise.all([
      cli(["setup", "--shpae", "large"]),
      cli(["cache", "list", "acme", "--al"]),
      cli(["admin", "accounts", "create", "acme", "--concurency", "2"]),
      cli(["usage", "acme", "--since", "yesterday"]),
    ]);
    expect(setup).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "remote-builder: `remote-builder setup` has no option --shpae; see `remote-builder setup --help`\n",
    });
    expect(cacheList.stderr).toBe(
      "remote-builder: `remote-builder cache list` has no option --al; see `remote-builder cache list --help`\n",
    );
    expect(create.stderr).toBe(
      "remote-builder: `remote-builder admin accounts create` has no option --concurency; see `remote-builder admin accounts create --help`\n",
    );
    expect(usage.stderr).toMatch(/has no option --since; see `remote-builder usage --help`\n$/);
    for (const run of [cacheList, create, usage]) expect(run).toMatchObject({ code: 2, stdout: "" });
  });

  it("refuses an unknown command or sub-command, or none, with exit code 2", async () => {
    const [unknown, sub, none, group] = await Promise.all([
      cli(["stauts"]),
      cli(["admin", "accounts", "delete", "acme"]),
      cli([]),
      cli(["cache"]),
    ]);
    expect(unknown).toEqual({
      code: 2,
      stdout: "",
      stderr: 'remote-builder: there is no command "stauts"; see `remote-builder --help`\n',
    });
    expect(sub).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'remote-builder: there is no command "admin accounts delete"; see `remote-builder admin accounts --help`\n',
    });
    // With no command at all the help is the answer, but on stderr: nothing was done.
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr).toMatch(/^remote-builder — /);
    expect(group).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "remote-builder: say what to do: remote-builder cache list|reset …; see `remote-builder cache --help`\n",
    });
  });

  it("loads none of the server side for --version, --help or a job command", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rb-cli-trace-"));
    // Writes the URL of every module the CLI loads to the file RB_TEST_TRACE names, at exit.
    const trace = `data:text/javascript,${encodeURIComponent(`
      import { registerHooks } from "node:module";
      import { writeFileSync } from "node:fs";
      const seen = [];
      registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
      process.on("exit", () => writeFileSync(process.env.RB_TEST_TRACE, seen.join("\\n")));
    `)}`;
    const heavy = /node_modules\/(express|pg|ioredis|@kubernetes|pino|prom-client|zod)\//;
    const heavyLoaded = async (args: string[]) => {
      const file = join(dir, `${args.join("-")}.txt`);
      await cli(args, ["--import", trace], BIN, { RB_TEST_TRACE: file });
      const modules = readFileSync(file, "utf8").split("\n");
      expect(modules.length).toBeGreaterThan(1);
      return modules.filter((url) => heavy.test(url));
    };
    try {
      for (const args of [["--version"], ["--help"], ["setup", "--help"], ["status", "--name", "none"]]) {
        expect(await heavyLoaded(args)).toEqual([]);
      }
      // The same trace sees the server side where it is loaded (serve, failing at once for want
      // of its configuration), so the check above can fail.
      expect((await heavyLoaded(["serve"])).length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
