import type { z } from "zod";

/**
 * How the configuration is declared: each environment variable once, with its zod type (default
 * included), what it means, who reads it, and where it lands in the nested configuration. The
 * parser, the `Config` type and docs/configuration.md are all derived from those declarations, so
 * a variable cannot be parsed without being documented, nor documented without being parsed.
 */

/** The commands that read the service's configuration. `dev` sets some variables itself. */
export type Command = "serve" | "dev";
/** The drivers that read a driver's own variables. */
export type DriverName = "local" | "kubernetes";

export interface VariableOptions<Value, Out> {
  /** Into the nested configuration's unit or shape (seconds to milliseconds, unset to null). */
  convert?: (value: Value) => Out;
  /** The default as the reference shows it, where the value itself would be unreadable. */
  shownDefault?: string;
  /** Default both: `dev` reads what it does not set itself. */
  commands?: readonly Command[];
  /** Default none: every driver's service reads it. */
  drivers?: readonly DriverName[];
}

/** One environment variable. */
export class Variable<Out = unknown> {
  readonly kind = "variable";
  constructor(
    readonly name: string,
    /** Parses the variable's text (undefined when unset), its default and optionality included. */
    readonly schema: z.ZodType,
    readonly description: string,
    readonly options: VariableOptions<never, Out>,
    readonly convert: (value: never) => Out,
  ) {}
}

/** A value of the nested configuration made from several variables (the CA: files, or a folder). */
export class Derived<Out = unknown> {
  readonly kind = "derived";
  constructor(
    readonly variables: Record<string, Variable>,
    readonly derive: (values: Record<string, unknown>) => Out,
  ) {}
}

export function variable<S extends z.ZodType, Out = z.output<S>>(
  name: string,
  schema: S,
  description: string,
  options: VariableOptions<z.output<S>, Out> = {},
  // NoInfer: a tree's contextual type (`Variable<unknown>`) must not decide what the value is.
): Variable<NoInfer<Out>> {
  const convert = options.convert ?? ((value: z.output<S>) => value as unknown as Out);
  return new Variable(name, schema, description, options as VariableOptions<never, Out>, convert);
}

type ValueOf<V> = V extends Variable<infer Out> ? Out : never;

/** What a variable is when unset: its default, converted (the fleet model runs the service's own). */
export function defaultOf<Out>(v: Variable<Out>): Out {
  return v.convert(v.schema.parse(undefined) as never);
}

export function derived<V extends Record<string, Variable>, Out>(
  variables: V,
  derive: (values: { [K in keyof V]: ValueOf<V[K]> }) => Out,
): Derived<Out> {
  return new Derived(variables, derive as (values: Record<string, unknown>) => Out);
}

/** A tree of declarations: the nested configuration's shape, with variables at its leaves. */
export interface Declarations {
  [key: string]: Variable | Derived | Declarations;
}

/** The configuration a tree of declarations yields. */
export type Resolved<T> =
  T extends Variable<infer Out>
    ? Out
    : T extends Derived<infer Out>
      ? Out
      : { -readonly [K in keyof T]: Resolved<T[K]> };

/** Every variable in the tree, in declaration order. */
export function variablesOf(tree: Declarations): Variable[] {
  return Object.values(tree).flatMap((node) => {
    if (node instanceof Variable) return [node];
    if (node instanceof Derived) return Object.values(node.variables);
    return variablesOf(node);
  });
}

/** The nested configuration, from the parsed value of each variable (by name). */
export function resolve<T extends Declarations>(tree: T, values: Record<string, unknown>): Resolved<T> {
  const value = (v: Variable) => v.convert(values[v.name] as never);
  return Object.fromEntries(
    Object.entries(tree).map(([key, node]) => {
      if (node instanceof Variable) return [key, value(node)];
      if (node instanceof Derived) {
        const inputs = Object.entries(node.variables).map(([k, v]) => [k, value(v)]);
        return [key, node.derive(Object.fromEntries(inputs))];
      }
      return [key, resolve(node, values)];
    }),
  ) as Resolved<T>;
}
