import pg from "pg";

/** The channel migration 0008's triggers NOTIFY on. */
export const AUTH_CHANGED_CHANNEL = "remote_builder_auth_changed";
const RECONNECT_MS = 1_000;

/**
 * Tells this process that what authenticates an agent token may have changed: PostgreSQL NOTIFYs
 * at the commit of any such change (a revocation, an account's update; migration 0008), whoever
 * made it and on whichever replica, and one connection of this process LISTENs.
 *
 * `generation` moves on with every notification, every change this process makes itself, and
 * every time the connection is lost or made; `live` says whether it listens now. A cache that
 * answers only while live, and only with what it read in the current generation, never answers
 * from before a change it could have been told of.
 */
export class AuthChanges {
  private current = 0;
  private client: pg.Client | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly onError: (err: Error) => void,
  ) {}

  get generation(): number {
    return this.current;
  }

  get live(): boolean {
    return this.client !== null;
  }

  /** Listens; a failure is reported and retried in the background (until then, `live` is false). */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true });
    client.on("notification", () => this.current++);
    client.on("error", (err) => {
      this.onError(err);
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${AUTH_CHANGED_CHANNEL}`);
    } catch (err) {
      this.onError(err as Error);
      this.lost(client);
      await client.end().catch(() => {});
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    // Whatever was read before this moment may predate a change no one could tell us of.
    this.current++;
    this.client = client;
  }

  /** A change this process made: forgotten at once, not when its own notification arrives. */
  changed(): void {
    this.current++;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.lost(client);
    await client?.end().catch(() => {});
  }

  private lost(client: pg.Client | null): void {
    if (client !== null && this.client === client) {
      this.client = null;
      this.current++;
    }
    if (this.closed || this.client !== null || this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.start(); // cannot reject: a failed connect is reported and retried inside
    }, RECONNECT_MS);
    this.retry.unref();
  }
}
