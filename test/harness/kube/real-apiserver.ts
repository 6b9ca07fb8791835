/**
 * The upstream kube-apiserver of ../shared/tools/kube (with Debian's etcd), started once for a
 * test run by the global setup where that folder is, so the driver's scenarios in
 * test/kubernetes/apiserver.test.ts run against the real thing in CI. A KUBE_APISERVER set by
 * hand (a kubeconfig of any API server) is used as it is.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SHARED_KUBE = resolve(import.meta.dirname, "../../../../shared/tools/kube");

export type RealApiServer = { kubeconfig: string; dir: string | null } | { skip: string };

/** Starts it (or finds the one named by KUBE_APISERVER); throws when the tools are there but it fails. */
export function startRealApiServer(): RealApiServer {
  if (process.env.KUBE_APISERVER) return { kubeconfig: process.env.KUBE_APISERVER, dir: null };
  if (!existsSync(join(SHARED_KUBE, "up"))) {
    return { skip: `${SHARED_KUBE} is absent and KUBE_APISERVER (a kubeconfig) is not set` };
  }
  const dir = mkdtempSync(join(tmpdir(), "rb-kube-apiserver-"));
  try {
    const kubeconfig = execFileSync(join(SHARED_KUBE, "up"), [dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    }).trim();
    return { kubeconfig, dir };
  } catch (err) {
    stopRealApiServer(dir);
    throw new Error(`${SHARED_KUBE}/up failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

export function stopRealApiServer(dir: string): void {
  try {
    execFileSync(join(SHARED_KUBE, "down"), [dir], { stdio: "ignore", timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In a test: the real API server's kubeconfig (set by the global setup), or why there is none. */
export function realApiServerInTest(): { kubeconfig: string } | { skip: string } {
  const kubeconfig = process.env.KUBE_APISERVER;
  if (kubeconfig) return { kubeconfig };
  return { skip: process.env.RB_TEST_KUBE_SKIP ?? "KUBE_APISERVER is not set" };
}
