import * as clientModels from "@kubernetes/client-node/dist/gen/models/all.js";
import * as kubernetesModels from "kubernetes-models";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

// Validation: the OpenAPI schemas (kubernetes-models) and, since those let unknown fields through,
// a walk over the Kubernetes client's type map that refuses any field Kubernetes does not have.

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion: string; kind: string };

/** Every model class of kubernetes-models, by "apiVersion/kind", found by walking its exports. */
function modelRegistry(): Map<string, ModelClass> {
  const models = new Map<string, ModelClass>();
  const walk = (ns: unknown, depth: number) => {
    for (const value of Object.values(obj(ns))) {
      if (typeof value === "function") {
        const { apiVersion, kind } = value as Partial<ModelClass>;
        if (typeof apiVersion === "string" && typeof kind === "string") {
          models.set(`${apiVersion}/${kind}`, value as ModelClass);
        }
      } else if (depth < 3) {
        walk(value, depth + 1);
      }
    }
  };
  walk(kubernetesModels, 0);
  return models;
}
export const MODELS = modelRegistry();

/** Schema errors of one object; an unknown apiVersion/kind is an error too. */
function schemaErrors(o: Obj): string[] {
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  const Model = MODELS.get(key);
  if (!Model) return [`no schema for ${key}`];
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

interface Attribute {
  baseName: string;
  type: string;
}
const TYPES = clientModels as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] }>;

/** Fields Kubernetes does not know (a typo is silently dropped by the apiserver otherwise). */
function unknownFields(o: Obj): string[] {
  const version = String(o.apiVersion).split("/").pop() ?? "";
  const root = `${version.charAt(0).toUpperCase()}${version.slice(1)}${String(o.kind)}`;
  if (!TYPES[root]?.getAttributeTypeMap) return [`no type for ${String(o.apiVersion)} ${String(o.kind)}`];
  const found: string[] = [];
  const walk = (type: string, value: unknown, path: string) => {
    const array = /^Array<(.+)>$/.exec(type);
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (array && Array.isArray(value)) value.forEach((v, i) => walk(array[1]!, v, `${path}[${i}]`));
    else if (map) for (const [k, v] of Object.entries(obj(value))) walk(map[1]!, v, `${path}.${k}`);
    else if (TYPES[type]?.getAttributeTypeMap) {
      const attributes = TYPES[type].getAttributeTypeMap();
      for (const [k, v] of Object.entries(obj(value))) {
        const attribute = attributes.find((a) => a.baseName === k);
        if (attribute) walk(attribute.type, v, `${path}.${k}`);
        else found.push(`${path}.${k}`);
      }
    }
  };
  walk(root, o, String(o.kind));
  return found;
}

/** Every schema error and unknown field of `objects`, as "Kind name: problem" lines. */
export function objectProblems(objects: Obj[]): string[] {
  return objects.flatMap((o) =>
    [...schemaErrors(o), ...unknownFields(o).map((f) => `unknown field ${f}`)].map(
      (p) => `${String(o.kind)} ${String(obj(o.metadata).name)}: ${p}`,
    ),
  );
}
