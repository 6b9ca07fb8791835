import type { AddressInfo } from "node:net";
import tls from "node:tls";
import type { ServedBuilder } from "../doubles/memory-driver.js";
import type { BuilderTls } from "../../service/core/ports.js";

export interface EchoBuilder {
  endpoint: string;
  /** ALPN protocols the builder negotiated, one per connection (the broker must ask for h2). */
  alpn: Array<string | false>;
  /** Client certificate SAN URIs the builder saw (the broker's own, never a build's). */
  peers: string[];
  close(): Promise<void>;
}

/** What a builder's TLS server takes, as buildkitd's --tlscacert/--tlscert/--tlskey give it: mTLS, h2. */
export function builderTlsOptions(credentials: BuilderTls): tls.TlsOptions {
  return {
    ca: [credentials.caPem],
    cert: credentials.certPem,
    key: credentials.keyPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ["h2"],
  };
}

/**
 * Stands in for buildkitd: an mTLS server with the builder's credentials that requires a client
 * certificate from the service CA, offers only h2, and echoes every byte back. A line "stream N\n"
 * makes it send N bytes instead, to test long streams.
 */
export async function startEchoBuilder(
  spec: Pick<ServedBuilder, "tls">,
  listen: (server: tls.Server) => Promise<{ host: string; port: number }> = onLoopback,
): Promise<EchoBuilder> {
  const credentials = await spec.tls();
  const alpn: Array<string | false> = [];
  const peers: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(builderTlsOptions(credentials), (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    alpn.push(socket.alpnProtocol ?? false);
    peers.push(socket.getPeerX509Certificate()?.subjectAltName ?? "");
    socket.setNoDelay(true);
    socket.on("error", () => {});
    let first = true;
    socket.on("data", (chunk: Buffer) => {
      const stream = first ? /^stream (\d+)\n$/.exec(chunk.toString("latin1")) : null;
      first = false;
      if (!stream) {
        socket.write(chunk);
        return;
      }
      let left = Number(stream[1]);
      const block = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (left > 0) {
          const piece = block.subarray(0, Math.min(block.length, left));
          left -= piece.length;
          if (!socket.write(piece)) return void socket.once("drain", pump);
        }
        socket.end();
      };
      pump();
    });
  });
  const { host, port } = await listen(server);
  return {
    endpoint: `tcp://${host}:${port}`,
    alpn,
    peers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open connections end with the builder, as they would with buildkitd.
        for (const s of sockets) s.destroy();
      }),
  };
}

async function onLoopback(server: tls.Server): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
}
