import { AccountLimitsCache } from "./account-limits.js";
import { BackgroundWork } from "./background-work.js";
import type { ClaimSettings } from "./build-claims.js";
import type { DraftSettings } from "./build-draft.js";
import { BuildEnds, type BuildEndsDeps } from "./build-ends.js";
import { BuildEvents } from "./build-events.js";
import { BuildRequests } from "./build-requests.js";
import { BuildStarts } from "./build-starts.js";
import type { ShapeCatalog } from "./catalog.js";
import type { Timeouts } from "./lifecycle.js";
import type {
  AccountStore,
  BuildStore,
  BuilderDriver,
  CertificateIssuer,
  ClaimStore,
  Clock,
  LedgerStore,
  RevocationBus,
  Telemetry,
  VolumeStore,
} from "./ports.js";
import { UnrecordedWaiters } from "./queue-repair.js";
import { ReconcilePass } from "./reconcile-pass.js";
import { StorageAccrual } from "./storage-accrual.js";
import type { VolumeService } from "./volume-service.js";

export interface BuildSettings extends ClaimSettings, DraftSettings {
  catalog: ShapeCatalog;
  defaultShape: string;
  timeouts: Timeouts;
  /** A builder older than this with no unfinished build is an orphan. */
  orphanGraceMs: number;
}

export interface BuildPorts {
  accounts: AccountStore;
  builds: BuildStore;
  ledger: LedgerStore;
  volumeStore: Pick<VolumeStore, "listLive">;
  volumes: Pick<VolumeService, "attach">;
  certificates: CertificateIssuer;
  revocations: RevocationBus;
  claims: ClaimStore;
  driver: BuilderDriver;
  clock: Clock;
  telemetry: Telemetry;
  /** Reads builds' BuildKit history as they end (BuildEnds); absent where builders are not BuildKit. */
  insights?: BuildEndsDeps["insights"];
  /** Reports failures of background work (boots, cleanup) that no request is waiting on. */
  onBackgroundError?: (message: string, err: unknown) => void;
}

/** The build services, each with one job, and what they share. */
export interface BuildServices {
  /** What clients and their broker connections ask of builds. */
  requests: BuildRequests;
  /** The reconcile loop's pass over builds, claims and builders. */
  reconcilePass: ReconcilePass;
  storage: StorageAccrual;
  /** Boots and releases that no request waits on; `drain()` waits for them. */
  background: BackgroundWork;
  /** Every build change this process makes (the dashboard's live list). */
  events: BuildEvents;
}

/**
 * Wires the build services over the ports. Starting and ending call each other (an ending starts
 * the next waiter; a failed boot ends its build), so the ends reach the starts through a function.
 */
export function createBuildServices(ports: BuildPorts, settings: BuildSettings): BuildServices {
  const events = new BuildEvents();
  const background = new BackgroundWork(ports.onBackgroundError);
  const limits = new AccountLimitsCache(ports.accounts, ports.clock);
  const advance = (buildId: string) => starts.advance(buildId);
  const shared = { ...ports, events, background, limits };
  const ends = new BuildEnds({ ...shared, advance });
  const starts: BuildStarts = new BuildStarts({
    ...shared,
    ends,
    settings: { ...settings, bootMs: settings.timeouts.bootMs },
  });
  const storage = new StorageAccrual({ ledger: ports.ledger, volumes: ports.volumeStore });
  const waiters = new UnrecordedWaiters({ ...shared, claimLeaseMs: settings.claimLeaseMs, advance });
  return {
    requests: new BuildRequests({ ...shared, settings, starts, ends }),
    reconcilePass: new ReconcilePass(ports, { starts, ends, waiters, storage }, settings),
    storage,
    background,
    events,
  };
}
