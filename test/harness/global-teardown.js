import { tsImport } from "tsx/esm/api";

export default async function globalTeardown() {
  const { stopTestServers } = await tsImport("./servers.ts", import.meta.url);
  await stopTestServers();
}
