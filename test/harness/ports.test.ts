import { describe, expect, it } from "@jest/globals";
import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort } from "../../service/embedded/process.js";
import { ephemeralRange, restartablePort } from "./ports.js";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("restartablePort", () => {
  it("gives a free port below the kernel's ephemeral range, where no connection's local port lands", async () => {
    const [low] = ephemeralRange();
    for (let i = 0; i < 20; i++) {
      const port = await restartablePort();
      expect(port).toBeLessThan(low);
      const server = await listen(port);
      await new Promise((done) => server.close(done));
    }
  });

  it("is needed: an outgoing connection's local port, from the range freePort() draws on, refuses a listener", async () => {
    const server = await listen(await freePort());
    const client: Socket = await new Promise((resolve) => {
      const socket = connect((server.address() as { port: number }).port, "127.0.0.1", () => resolve(socket));
    });
    try {
      const [low, high] = ephemeralRange();
      expect(client.localPort).toBeGreaterThanOrEqual(low);
      expect(client.localPort).toBeLessThanOrEqual(high);
      await expect(listen(client.localPort!)).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      client.destroy();
      await new Promise((done) => server.close(done));
    }
  });
});
