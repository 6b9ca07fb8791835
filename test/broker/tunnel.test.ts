import { generateKeyPairSync } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import type { z } from "zod";
import type { Build } from "../../service/http/schemas.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { type EchoBuilder, startEchoBuilder } from "../harness/echo-builder.js";
import { eventually } from "../harness/wait.js";
import type { DriverContext } from "../../service/server.js";

describe("a build's connection through the broker", () => {
  let service: TestService;
  const builders: EchoBuilder[] = [];
  beforeAll(async () => {
    const driver = (context: DriverContext) =>
      new MemoryDriver({
        ...context,
        serve: async (spec) => {
          const builder = await startEchoBuilder(spec);
          builders.push(builder);
          return builder;
        },
      });
    service = await startTestService({}, { driver });
  });
  afterAll(async () => {
    await service.stop();
  });

  it("reaches the build's builder with the certificate the service signed, over h2 on both legs", async () => {
    const { token } = await service.account({ plan: "team" });
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const created = await http(service.url, "POST", "/api/v1/builds", {
      token,
      body: { publicKey: publicKey.export({ type: "spki", format: "pem" }) },
    });
    expect(created.status).toBe(201);
    const ready = await http<z.infer<typeof Build>>(
      service.url,
      "GET",
      `/api/v1/builds/${String(created.body.id)}?wait=5`,
      { token },
    );
    expect(ready.body.state).toBe("ready");
    const { endpoint, serverName, caCertificate } = ready.body.broker;
    const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(endpoint)!;

    const socket = tls.connect({
      host,
      port: Number(port),
      servername: serverName,
      ca: [caCertificate],
      cert: ready.body.certificate!,
      key: privateKey.export({ type: "pkcs8", format: "pem" }),
      ALPNProtocols: ["h2"],
    });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    expect(socket.alpnProtocol).toBe("h2");
    socket.write("hello builder");
    const echoed = await new Promise<string>((resolve) =>
      socket.once("data", (d: Buffer) => resolve(d.toString())),
    );
    expect(echoed).toBe("hello builder");
    // The broker records the connect beside the tunnel, not before it: the echo may come back first.
    await eventually("the build to be building", async () => {
      const building = await http<z.infer<typeof Build>>(
        service.url,
        "GET",
        `/api/v1/builds/${String(created.body.id)}`,
        { token },
      );
      return building.body.state === "building";
    });
    expect(builders.at(-1)!.alpn).toEqual(["h2"]);
    expect(builders.at(-1)!.peers[0]).toContain("URI:remote-builder://broker");

    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
    const completedAt = Date.now();
    await http(service.url, "POST", `/api/v1/builds/${created.body.id}/complete`, {
      token,
      body: { result: "success" },
    });
    expect((await closed) - completedAt).toBeLessThan(1000);
  });
});
