/**
 * deploy/ rendered the way the deploy workflow renders it (`kubectl kustomize`), and parsed into
 * plain objects: for the manifest checks (manifests.test.ts) and for applying them to a real API
 * server (apiserver.test.ts, and the driver's RBAC in test/kubernetes).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { promisify } from "node:util";
import { loadAll } from "js-yaml";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BASE = join(ROOT, "deploy/base");
export const OVERLAY = join(ROOT, "deploy/overlays/tenant-zero");

export type Obj = Record<string, unknown>;
export interface KubeObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

export const obj = (v: unknown): Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};

function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

export async function render(dir: string): Promise<string> {
  const kubectl = findOnPath("kubectl");
  if (kubectl === null) {
    throw new Error(
      "kubectl is not on PATH: the deploy/ manifests are rendered with `kubectl kustomize`. " +
        "Install it with `bash scripts/setup.sh` (Debian: apt-get install kubernetes-client).",
    );
  }
  const { stdout } = await promisify(execFile)(kubectl, ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export function parse(text: string): KubeObject[] {
  return loadAll(text)
    .filter((doc) => doc !== null && doc !== undefined)
    .map((doc) => {
      const o = obj(doc);
      if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || !obj(o.metadata).name) {
        throw new Error(`not a Kubernetes object: ${JSON.stringify(doc).slice(0, 200)}`);
      }
      return o as KubeObject;
    });
}

/** The objects of a kustomization, rendered and parsed. */
export async function renderObjects(dir: string): Promise<KubeObject[]> {
  return parse(await render(dir));
}
