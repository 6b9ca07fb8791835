import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { BUILD_SUBNET } from "../../service/adapters/drivers/local-network.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { buildxCreateArgs } from "../../service/client/docker.js";
import { builderServerName } from "../../service/core/builder-names.js";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import { builderOf, type TestService } from "../harness/context.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { completeBuild, type LiveBuild, readyBuild, startLocalService } from "../drivers/support.js";
import {
  buildContext,
  buildctl,
  buildxBuild,
  describeReal,
  type Run,
  run,
  succeeded,
  tools,
} from "../integration/support.js";

/**
 * Builders on the local driver with real buildkitd, attacked as a tenant would: another tenant's
 * client certificate straight at a builder, a certificate through the broker to a builder not its
 * own, and a RUN step dialling the service's stores and other builders on this machine.
 */
describeReal("builders trust only the broker, and builds reach nothing of the service", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-builder-trust-"));
  const caDir = join(work, "ca");
  let service: TestService;
  let base: OciImage;
  let docker: Record<string, string>;
  let a: LiveBuild;
  let b: LiveBuild;
  let brokerIdentity: { cert: string; key: string };

  beforeAll(async () => {
    base = busyboxImage(work);
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    service = await startLocalService(join(work, "local"), {
      RB_BUILDKITD: tools().buildkitd,
      RB_CA_DIR: caDir,
    });
    a = await readyBuild(service, await service.account());
    b = await readyBuild(service, await service.account());
    // The service's own broker identity, from the same CA folder: the one client builders accept.
    const issued = await (
      await CertificateAuthority.inFolder(caDir)
    ).issueBrokerClient(Date.now() + 3_600_000);
    brokerIdentity = { cert: file("broker.pem", issued.certPem), key: file("broker-key.pem", issued.keyPem) };
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  function file(name: string, content: string): string {
    const path = join(work, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** A tenant's certificate and key as files. */
  function tenant(build: LiveBuild): { cert: string; key: string } {
    return {
      cert: file(`${build.id}.pem`, build.certificate!),
      key: file(`${build.id}-key.pem`, build.key.privateKeyPem),
    };
  }

  /** `buildctl debug workers` straight at `target`'s builder, as `client`. */
  async function direct(target: LiveBuild, client: { cert: string; key: string }): Promise<Run> {
    const { endpoint, builderId } = await builderOf(service, target.id);
    const ca = file("service-ca.pem", service.brokerInfo.caCertificate);
    return buildctl({ address: endpoint! }, ["debug", "workers", "--format", "{{json .}}"], {
      ca,
      ...client,
      serverName: builderServerName(builderId!),
    });
  }

  /** `buildctl debug workers` through the broker, as `client`: which builder answers. */
  async function throughBroker(client: { cert: string; key: string }): Promise<Run> {
    const ca = file("service-ca.pem", service.brokerInfo.caCertificate);
    return buildctl(
      { address: service.brokerInfo.endpoint },
      ["debug", "workers", "--format", "{{json .}}"],
      { ca, ...client, serverName: service.brokerInfo.serverName },
    );
  }

  const workerId = (r: Run) => (JSON.parse(succeeded("buildctl", r).stdout) as Array<{ id: string }>)[0]!.id;
  const refusedTls = (r: Run) => {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/certificate|tls|handshake|connection|EOF|transport|broken pipe/i);
  };

  it("a builder takes the broker's identity, and refuses every tenant's certificate, its own build's included", async () => {
    // The control: the same call with the broker's identity gets in, so a refusal below is the certificate's.
    expect(workerId(await direct(a, brokerIdentity))).toMatch(/^[a-z0-9]+$/);
    refusedTls(await direct(a, tenant(b)));
    refusedTls(await direct(a, tenant(a)));
  });

  it("through the broker a certificate reaches its own build's builder only; once its build ends, none", async () => {
    const aWorker = workerId(await throughBroker(tenant(a)));
    const bWorker = workerId(await throughBroker(tenant(b)));
    expect(bWorker).not.toBe(aWorker);
    expect(workerId(await direct(a, brokerIdentity))).toBe(aWorker);

    const ended = tenant(b);
    await completeBuild(service, b);
    refusedTls(await throughBroker(ended));
    refusedTls(await direct(a, ended));
  });

  it("a RUN step reaches neither the service, its Redis and PostgreSQL, nor another builder on this machine", async () => {
    const ports = {
      api: Number(new URL(service.url).port),
      broker: Number(new URL(service.brokerInfo.endpoint.replace("tcp:", "http:")).port),
      redis: Number(new URL(process.env.RB_TEST_REDIS_URL!).port),
      postgres: Number(new URL(process.env.RB_TEST_POSTGRES_URL!).port),
      builder: Number(new URL((await builderOf(service, a.id)).endpoint!.replace("tcp:", "http:")).port),
    };
    // The control: a listener on every address of this machine, which the build's bridge reaches.
    const open: Server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => open.listen(0, "0.0.0.0", resolve));
    const gateway = BUILD_SUBNET.replace(/0\/16$/, "1");
    const targets = [
      ...Object.entries(ports).map(([name, port]) => [name, "127.0.0.1", port] as const),
      ["control", gateway, (open.address() as { port: number }).port] as const,
    ];
    const probe = targets
      .map(
        ([name, host, port]) =>
          `if nc -w 2 ${host} ${port} </dev/null; then echo "${name} REACHED"; else echo "${name} BLOCKED"; fi`,
      )
      .join("; ");
    const context = buildContext(join(work, "probe"), { Dockerfile: `FROM base\nRUN ${probe}\n` });
    try {
      const c = build(a);
      succeeded("docker buildx create", await run("docker", c.create, { env: docker }));
      const built = await buildxBuild(docker, c.name, context, ["--build-context", `base=${base.context}`]);
      await run("docker", ["buildx", "rm", c.name], { env: docker });
      succeeded("the probe build", built.result);
      expect(built.printed.filter((l) => / (REACHED|BLOCKED)$/.test(l)).sort()).toEqual([
        "api BLOCKED",
        "broker BLOCKED",
        "builder BLOCKED",
        "control REACHED",
        "postgres BLOCKED",
        "redis BLOCKED",
      ]);
    } finally {
      open.close();
    }
  }, 120_000);

  /** `docker buildx create` for a build through the broker, as `remote-builder setup` runs it. */
  function build(target: LiveBuild): { name: string; create: string[] } {
    const name = `trust-${target.id.slice(0, 8)}`;
    const { cert, key } = tenant(target);
    const ca = file("service-ca.pem", service.brokerInfo.caCertificate);
    const { serverName, endpoint } = service.brokerInfo;
    return {
      name,
      create: buildxCreateArgs({
        name,
        endpoint,
        serverName,
        caPath: ca,
        certPath: cert,
        keyPath: key,
        use: false,
      }),
    };
  }
});
