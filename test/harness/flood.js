#!/usr/bin/env node
// A handshake flood from one source, as its own process (an attacker is not in the broker's
// event loop): `flood.js HOST PORT FROM COUNT SECONDS HELLO_HEX`. It keeps COUNT connections to
// HOST:PORT from the address FROM, half sending nothing and half sending the first half of the
// ClientHello HELLO_HEX; each one closed is opened again a second later, until SECONDS are up.
// Prints one JSON line: how many connections it opened.
import net from "node:net";
import { Buffer } from "node:buffer";
import { setTimeout } from "node:timers";

const [host, port, from, count, seconds, helloHex] = process.argv.slice(2);
const half = Buffer.from(helloHex, "hex").subarray(0, helloHex.length / 4);
const until = Date.now() + Number(seconds) * 1000;
const open = new Set();
let opened = 0;

function connect(i) {
  if (Date.now() >= until) return;
  const socket = net.connect({ host, port: Number(port), localAddress: from }, () => {
    if (i % 2) socket.write(half);
  });
  opened++;
  open.add(socket);
  socket.on("error", () => {});
  socket.once("close", () => {
    open.delete(socket);
    setTimeout(() => connect(i), 1_000);
  });
}

for (let i = 0; i < Number(count); i++) connect(i);
setTimeout(
  () => {
    for (const socket of open) socket.destroy();
    process.stdout.write(`${JSON.stringify({ opened })}\n`);
    process.exit(0);
  },
  Number(seconds) * 1000,
);
