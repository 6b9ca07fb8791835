import type { KubeObject } from "./registry.js";

/**
 * The "etcd" of the fake: objects by resource and namespace/name, one global resourceVersion
 * counter (every write takes the next value, as etcd's revision does), and a bounded history of
 * events from which watches resume. Watching from before the history is "too old" (410 Expired).
 */
export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  rv: number;
  type: EventType;
  resource: string;
  object: KubeObject;
  /** The revision this one replaced, so that filtered watches can tell "left the selection". */
  prev?: KubeObject;
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;

export class Store {
  private rv = 1000;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  /** Events at or below this revision are gone from the history. */
  private horizon = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly historySize: number) {}

  currentRV(): number {
    return this.rv;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.data.get(resource)?.get(`${namespace ?? ""}/${name}`);
    return o && structuredClone(o);
  }

  /** Sorted by namespace then name, as etcd's key order makes the real lists. */
  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...(this.data.get(resource)?.entries() ?? [])].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return all
      .map(([, o]) => o)
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map((o) => structuredClone(o));
  }

  resources(): string[] {
    return [...this.data.keys()];
  }

  /** Writes a new revision of `o` (assigning its resourceVersion) and tells the watchers. */
  put(resource: string, o: KubeObject, type: "ADDED" | "MODIFIED"): KubeObject {
    const stored = structuredClone(o);
    stored.metadata.resourceVersion = String(++this.rv);
    let bucket = this.data.get(resource);
    if (!bucket) this.data.set(resource, (bucket = new Map()));
    const prev = bucket.get(keyOf(stored));
    bucket.set(keyOf(stored), stored);
    this.emit({ rv: this.rv, type, resource, object: stored, ...(prev ? { prev } : {}) });
    return structuredClone(stored);
  }

  remove(resource: string, o: KubeObject): KubeObject {
    const gone = structuredClone(o);
    this.data.get(resource)?.delete(keyOf(gone));
    // The DELETED event carries the revision of the deletion, as the real watch cache does.
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: "DELETED", resource, object: gone });
    return structuredClone(gone);
  }

  /** Events after `rv`, or "expired" when some of them have left the history. */
  since(rv: number): StoreEvent[] | "expired" {
    if (rv < this.horizon) return "expired";
    return this.history.filter((e) => e.rv > rv);
  }

  isExpired(rv: number): boolean {
    return rv < this.horizon;
  }

  /** Forgets the whole history: every watch or continue token from before now gets 410. */
  compact(): void {
    this.history = [];
    this.horizon = this.rv;
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.horizon = dropped[dropped.length - 1]?.rv ?? this.horizon;
    }
    for (const fn of [...this.listeners]) fn(e);
  }
}
