import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it, jest } from "@jest/globals";
import { buildxBootstrapArgs, buildxCreateArgs, buildxRmArgs, docker } from "../../service/client/docker.js";
import { FAKE_BIN } from "../harness/action-job.js";
import { eventually } from "../harness/wait.js";

describe("buildx argv", () => {
  const options = {
    name: "rb-0123abcd",
    endpoint: "tcp://builds.example.com:443",
    serverName: "builds.example.com",
    caPath: "/tmp/rb/ca.pem",
    certPath: "/tmp/rb/cert.pem",
    keyPath: "/tmp/rb/key.pem",
  };

  it("creates a remote-driver builder with the build's certificate, and uses it when asked", () => {
    expect(buildxCreateArgs({ ...options, use: true })).toEqual([
      "buildx",
      "create",
      "--name",
      "rb-0123abcd",
      "--driver",
      "remote",
      "--driver-opt",
      "cacert=/tmp/rb/ca.pem,cert=/tmp/rb/cert.pem,key=/tmp/rb/key.pem,servername=builds.example.com",
      "--use",
      "tcp://builds.example.com:443",
    ]);
  });

  it("leaves --use out when not asked, with the endpoint still last", () => {
    expect(buildxCreateArgs({ ...options, use: false })).toEqual([
      "buildx",
      "create",
      "--name",
      "rb-0123abcd",
      "--driver",
      "remote",
      "--driver-opt",
      "cacert=/tmp/rb/ca.pem,cert=/tmp/rb/cert.pem,key=/tmp/rb/key.pem,servername=builds.example.com",
      "tcp://builds.example.com:443",
    ]);
  });

  it("bootstraps and removes the builder by name", () => {
    expect(buildxBootstrapArgs("rb-x")).toEqual(["buildx", "inspect", "--bootstrap", "rb-x"]);
    expect(buildxRmArgs("rb-x")).toEqual(["buildx", "rm", "rb-x"]);
  });
});

describe("running docker", () => {
  const path = process.env.PATH;
  const dirs: string[] = [];

  afterEach(() => {
    process.env.PATH = path;
    jest.restoreAllMocks();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The harness' recording fake docker first on PATH, told what to do through `env` (its
   * FAKE_DOCKER_FAIL / FAKE_DOCKER_HANG); returns the folder it is in and its call log.
   */
  function fakeDocker(env: Record<string, string> = {}): { dir: string; log: string } {
    const dir = mkdtempSync(join(tmpdir(), "rb-docker-"));
    dirs.push(dir);
    const log = join(dir, "docker.jsonl");
    const exports = Object.entries({ ...env, FAKE_DOCKER_LOG: log }).map(([k, v]) => `export ${k}='${v}'`);
    writeFileSync(
      join(dir, "docker"),
      ["#!/bin/sh", ...exports, `exec ${FAKE_BIN}/docker "$@"`, ""].join("\n"),
    );
    chmodSync(join(dir, "docker"), 0o755);
    process.env.PATH = `${dir}:${path}`;
    return { dir, log };
  }

  /** Live processes with `word` in their argv (a killed one, reaped or a zombie, reads empty). */
  function processesWith(word: string): number[] {
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(word);
        } catch {
          return false;
        }
      })
      .map(Number);
  }

  it("kills a docker that hangs at its time limit, and says which command it was", async () => {
    const { log } = fakeDocker({ FAKE_DOCKER_HANG: "buildx inspect" });
    const name = `rb-${randomUUID()}`;
    const startedAt = Date.now();
    const running = docker(buildxBootstrapArgs(name), { timeoutMs: 1_000 });
    await eventually("the fake docker to hang", () => processesWith(name).length === 1);

    await expect(running).rejects.toThrow("`docker buildx inspect --bootstrap` did not finish within 1 s");
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    await eventually("the hung docker to be killed", () => processesWith(name).length === 0, 2_000);
    expect(readFileSync(log, "utf8")).toBe(
      `${JSON.stringify({ argv: buildxBootstrapArgs(name), hung: true })}\n`,
    );
  });

  it("fails with the command and what docker said on stderr when it exits non-zero", async () => {
    fakeDocker({ FAKE_DOCKER_FAIL: "buildx rm" });
    await expect(docker(buildxRmArgs("rb-x"), { timeoutMs: 10_000 })).rejects.toThrow(
      "`docker buildx rm rb-x` exited with 1: ERROR: buildx rm failed (told to by FAKE_DOCKER_FAIL)",
    );
  });

  it("shows the runner's [command] line and docker's output on the stream it is given", async () => {
    const { dir } = fakeDocker();
    const output = new PassThrough();
    const shown: Buffer[] = [];
    output.on("data", (chunk: Buffer) => shown.push(chunk));
    const args = buildxCreateArgs({
      name: "rb-x",
      endpoint: "tcp://127.0.0.1:1",
      serverName: "localhost",
      caPath: "/nowhere/ca.pem",
      certPath: "/nowhere/cert.pem",
      keyPath: "/nowhere/key.pem",
      use: false,
    });

    const result = await docker(args, { timeoutMs: 10_000, output });
    expect(result).toEqual({ code: 0, stdout: "rb-x\n", stderr: "" });
    expect(Buffer.concat(shown).toString()).toBe(`[command]${dir}/docker ${args.join(" ")}\nrb-x\n`);
  });

  it("prints nothing without a stream, for a CLI whose stdout is its result", async () => {
    fakeDocker();
    const stdout = jest.spyOn(process.stdout, "write");
    const stderr = jest.spyOn(process.stderr, "write");
    const result = await docker(["buildx", "create", "--name", "rb-x", "--driver-opt", "k=v", "tcp://h:1"], {
      timeoutMs: 10_000,
    });
    expect(result.stdout).toBe("rb-x\n");
    expect([...stdout.mock.calls, ...stderr.mock.calls]).toEqual([]);
  });

  it("says how to get docker when there is none on PATH", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rb-no-docker-"));
    dirs.push(dir);
    process.env.PATH = dir;
    await expect(docker(buildxRmArgs("rb-x"), { timeoutMs: 10_000 })).rejects.toThrow(
      "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)",
    );
  });
});
