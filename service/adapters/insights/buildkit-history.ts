/**
 * Reads a builder's BuildKit build history over its mTLS endpoint, as the broker reaches it (the
 * broker's client identity; the builder's own server name), with BuildKit's own `.proto` files
 * (v0.11.6, vendored in ./proto/). Two calls of BuildKit's gRPC API:
 *
 * - `moby.buildkit.v1.Control/ListenBuildHistory` (ActiveOnly false, EarlyExit true): every
 *   record the daemon keeps (ref, times, error, step counts, the trace's descriptor), then the end.
 * - `containerd.services.content.v1.Content/Read`: a record's trace, a blob in the daemon's
 *   content store. BuildKit v0.11 writes it about three seconds after the solve ends, as
 *   OpenTelemetry spans in JSON (`application/vnd.buildkit.otlp.json.v0`), one per vertex that
 *   ran: this is where step names and durations are, since the record only counts steps.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { builderServerName } from "../../core/builder-names.js";
import { type SolveRecord, solvesOfBuild, type StepTiming } from "../../core/build-insights.js";
import type { BuildInsightsReader } from "../../core/ports.js";
import type { KeyPairPem } from "../../certs/authority.js";

/** The vendored protos: found beside this module, in the source and in the compiled build alike. */
const PROTO_DIR = fileURLToPath(new URL("./proto/", import.meta.url));
const CONTROL_PROTO = "github.com/moby/buildkit/api/services/control/control.proto";
const CONTENT_PROTO = "github.com/containerd/containerd/api/services/content/v1/content.proto";
const TRACE_MEDIA_TYPE = "application/vnd.buildkit.otlp.json.v0";
/** BuildKit v0.11 saves a solve's trace this long after the solve ends (solver.go). */
const TRACE_DELAY_MS = 3_000;
const POLL_MS = 500;

/** The broker's client identity towards builders, and the CA builders' certificates come from. */
export interface BuilderIdentity {
  caPem: string;
  client(): Promise<KeyPairPem>;
}

interface Timestamp {
  seconds: number;
  nanos: number;
}

interface Descriptor {
  media_type: string;
  digest: string;
  size: number;
}

interface HistoryRecord {
  Ref: string;
  error: { code: number; message: string } | null;
  CreatedAt: Timestamp | null;
  CompletedAt: Timestamp | null;
  trace: Descriptor | null;
  numCachedSteps: number;
  numTotalSteps: number;
  numCompletedSteps: number;
}

type ServiceClient = grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientReadableStream<unknown>>;
type ClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => ServiceClient;

let services: Promise<{ Control: ClientConstructor; Content: ClientConstructor }> | null = null;

/** The two services' client classes, loaded once. */
function loadServices() {
  services ??= protoLoader
    .load([CONTROL_PROTO, CONTENT_PROTO], {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    })
    .then((definition) => {
      const loaded = grpc.loadPackageDefinition(definition) as unknown as {
        moby: { buildkit: { v1: { Control: ClientConstructor } } };
        containerd: { services: { content: { v1: { Content: ClientConstructor } } } };
      };
      return {
        Control: loaded.moby.buildkit.v1.Control,
        Content: loaded.containerd.services.content.v1.Content,
      };
    });
  return services;
}

export class BuildkitHistoryReader implements BuildInsightsReader {
  /** The broker's client certificate, made once and again when it comes near its end. */
  private client: { pair: KeyPairPem; renewAt: number } | null = null;

  constructor(
    private readonly identity: BuilderIdentity,
    private readonly clientLifetimeMs = 3_600_000,
  ) {}

  async read(
    builder: { builderId: string; endpoint: string },
    window: { from: number; to: number },
    timeoutMs: number,
  ): Promise<SolveRecord[]> {
    const deadline = Date.now() + timeoutMs;
    const { Control, Content } = await loadServices();
    const address = grpcAddress(builder.endpoint);
    const credentials = await this.credentials();
    const serverName = builderServerName(builder.builderId);
    const options = {
      "grpc.ssl_target_name_override": serverName,
      "grpc.default_authority": serverName,
    };
    const control = new Control(address, credentials, options);
    const content = new Content(address, credentials, options);
    try {
      let records = solvesOfBuild((await listHistory(control, deadline)).map(solveOf), window);
      // A trace comes a few seconds after its solve: wait for the ones still to come, while there is time.
      while (records.some((r) => awaitingTrace(r, Date.now())) && Date.now() + POLL_MS < deadline) {
        await sleep(POLL_MS);
        records = solvesOfBuild((await listHistory(control, deadline)).map(solveOf), window);
      }
      return await Promise.all(
        records.map(async ({ trace, ...record }) => ({
          ...record,
          steps:
            trace?.media_type === TRACE_MEDIA_TYPE
              ? stepsOfTrace(await readBlob(content, trace.digest, deadline))
              : null,
        })),
      );
    } finally {
      control.close();
      content.close();
    }
  }

  private async credentials(): Promise<grpc.ChannelCredentials> {
    if (this.client === null || Date.now() >= this.client.renewAt) {
      const pair = await this.identity.client();
      this.client = { pair, renewAt: Date.now() + this.clientLifetimeMs / 2 };
    }
    const { pair } = this.client;
    return grpc.credentials.createSsl(
      Buffer.from(this.identity.caPem),
      Buffer.from(pair.keyPem),
      Buffer.from(pair.certPem),
    );
  }
}

type Solve = SolveRecord & { trace: Descriptor | null };

function solveOf(r: HistoryRecord): Solve {
  return {
    ref: r.Ref,
    createdAt: millis(r.CreatedAt) ?? 0,
    completedAt: millis(r.CompletedAt),
    error: r.error && r.error.code !== 0 ? r.error.message || `gRPC status ${r.error.code}` : null,
    totalSteps: r.numTotalSteps,
    cachedSteps: r.numCachedSteps,
    completedSteps: r.numCompletedSteps,
    steps: null,
    trace: r.trace && r.trace.digest ? r.trace : null,
  };
}

/** A solve that ended moments ago and whose trace BuildKit has not written yet. */
function awaitingTrace(solve: Solve, now: number): boolean {
  return (
    solve.trace === null && solve.completedAt !== null && now - solve.completedAt < TRACE_DELAY_MS + 2_000
  );
}

/** Every record the daemon keeps, as ListenBuildHistory streams them before its early exit. */
function listHistory(control: ServiceClient, deadline: number): Promise<HistoryRecord[]> {
  return new Promise((resolve, reject) => {
    const records = new Map<string, HistoryRecord>();
    const stream = control.ListenBuildHistory!(
      { ActiveOnly: false, Ref: "", EarlyExit: true },
      { deadline },
    ) as grpc.ClientReadableStream<{ type: string; record: HistoryRecord | null }>;
    stream.on("data", (event: { type: string; record: HistoryRecord | null }) => {
      if (!event.record) return;
      if (event.type === "DELETED") records.delete(event.record.Ref);
      else records.set(event.record.Ref, event.record);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve([...records.values()]));
  });
}

/** A blob of the daemon's content store, whole. */
function readBlob(content: ServiceClient, digest: string, deadline: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = content.Read!({ digest, offset: 0, size: 0 }, { deadline }) as grpc.ClientReadableStream<{
      data: Buffer;
    }>;
    stream.on("data", (chunk: { data: Buffer }) => chunks.push(chunk.data));
    stream.on("error", reject);
    stream.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

/** An OpenTelemetry span as BuildKit v0.11 saves it (Go's tracetest.SpanStub, JSON-encoded). */
interface SpanStub {
  Name: string;
  StartTime: string;
  EndTime: string;
  Attributes?: Array<{ Key: string; Value: { Type: string; Value: unknown } }> | null;
}

const CACHE_SPAN = /^(load cache|cache request): /;

/**
 * The steps of a trace: the spans BuildKit opens per vertex (they carry a `vertex` attribute). A
 * vertex that ran has a span named as the vertex; one loaded from the cache has a "load cache: "
 * span instead. Internal lookups ("cache request: ") are not steps.
 */
export function stepsOfTrace(blob: Buffer | string): StepTiming[] {
  const steps = new Map<string, StepTiming>();
  for (const span of jsonValues(blob.toString()) as SpanStub[]) {
    const vertex = span.Attributes?.find((a) => a.Key === "vertex")?.Value.Value;
    if (typeof vertex !== "string" || span.Name.startsWith("cache request: ")) continue;
    const cached = CACHE_SPAN.test(span.Name);
    const name = span.Name.replace(CACHE_SPAN, "");
    const seconds = Math.max(0, (Date.parse(span.EndTime) - Date.parse(span.StartTime)) / 1000);
    const known = steps.get(vertex);
    // A vertex that ran counts as run, whatever else its cache lookups did.
    if (!known || (known.cached && !cached)) steps.set(vertex, { name, seconds, cached });
  }
  return [...steps.values()];
}

/** The JSON values of a stream of concatenated JSON documents, as Go's json.Encoder writes them. */
export function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return values;
}

function millis(t: Timestamp | null): number | null {
  if (!t) return null;
  return t.seconds * 1000 + Math.floor(t.nanos / 1e6);
}

/** "tcp://host:port" (what drivers report) as gRPC's "host:port". */
function grpcAddress(endpoint: string): string {
  const url = new URL(endpoint.replace(/^tcp:/, "http:"));
  return `${url.hostname}:${url.port}`;
}
