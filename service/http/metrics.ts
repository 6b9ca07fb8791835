import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BuildState } from "../core/lifecycle.js";
import type { Telemetry } from "../core/ports.js";
import type { BrokerMetrics } from "../broker/broker.js";

/** The service's Prometheus metrics, in a registry of its own (several services can share a process in tests). */
export class Metrics implements Telemetry, BrokerMetrics {
  readonly registry = new Registry();
  readonly admissions = new Counter({
    name: "remote_builder_admissions_total",
    help: "Build admissions by outcome: admitted, queued, or the refusal's problem type",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly activeBuilds = new Gauge({
    name: "remote_builder_active_builds",
    help: "Builds holding a concurrency slot (pending, ready or building), as of the last reconcile",
    registers: [this.registry],
  });
  readonly claimWaitSeconds = new Histogram({
    name: "remote_builder_claim_wait_seconds",
    help: "How long queued builds waited for their concurrency slot and cache volume",
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly buildsEnded = new Counter({
    name: "remote_builder_builds_ended_total",
    help: "Builds that ended, by final state and reason",
    labelNames: ["state", "reason"],
    registers: [this.registry],
  });
  readonly prewarms = new Counter({
    name: "remote_builder_prewarm_total",
    help: "Pre-warm decisions for queued CI jobs, per account: started, already-warm, skipped; and used or expired builders",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly prewarmLeadSeconds = new Histogram({
    name: "remote_builder_prewarm_lead_seconds",
    help: "How long before its build a pre-warmed builder started: the lead time a CI's job-queued hook gives",
    buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600],
    registers: [this.registry],
  });
  readonly prewarmWastedSeconds = new Counter({
    name: "remote_builder_prewarm_wasted_seconds_total",
    help: "Builder seconds of pre-warmed builders no build took (stopped at their TTL); billed to no account",
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: "remote_builder_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 60],
    registers: [this.registry],
  });

  readonly hookDeliveries = new Counter({
    name: "remote_builder_hook_deliveries_total",
    help: "CI hook deliveries by provider and outcome: accepted, ignored, or refused-<problem kind>",
    labelNames: ["provider", "outcome"],
    registers: [this.registry],
  });

  readonly brokerRefusals = new Counter({
    name: "remote_builder_broker_refusals_total",
    help: "Connections the broker turned away, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly brokerConnections = new Gauge({
    name: "remote_builder_broker_open_connections",
    help: "Connections the broker is piping to builders",
    registers: [this.registry],
  });
  readonly brokerBytes = new Counter({
    name: "remote_builder_broker_bytes_total",
    help: "Bytes the broker carried, by direction (in: client to builder)",
    labelNames: ["direction"],
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: "remote_builder_certificate_expiry_timestamp_seconds",
    help: "When the first of the broker's own certificates expires (they renew at two thirds of their life)",
    registers: [this.registry],
  });

  certificatesExpire(notAfter: number): void {
    this.certificateExpiry.set(notAfter / 1000);
  }

  refused(reason: string): void {
    this.brokerRefusals.inc({ reason });
  }

  opened(): void {
    this.brokerConnections.inc();
  }

  closed(bytesIn: number, bytesOut: number): void {
    this.brokerConnections.dec();
    this.brokerBytes.inc({ direction: "in" }, bytesIn);
    this.brokerBytes.inc({ direction: "out" }, bytesOut);
  }

  hookDelivery(provider: string, outcome: string): void {
    this.hookDeliveries.inc({ provider, outcome });
  }

  admission(outcome: string): void {
    this.admissions.inc({ outcome });
  }

  claimWait(seconds: number): void {
    this.claimWaitSeconds.observe(seconds);
  }

  buildEnded(state: BuildState, reason: string): void {
    this.buildsEnded.inc({ state, reason });
  }

  prewarm(outcome: string): void {
    this.prewarms.inc({ outcome });
  }

  prewarmUsed(leadSeconds: number): void {
    this.prewarms.inc({ outcome: "used" });
    this.prewarmLeadSeconds.observe(leadSeconds);
  }

  prewarmWasted(seconds: number): void {
    this.prewarms.inc({ outcome: "expired" });
    this.prewarmWastedSeconds.inc(seconds);
  }
}
