// Jest loads global setup outside its transform pipeline, so the TypeScript is loaded through tsx.
import { tsImport } from "tsx/esm/api";

export default async function globalSetup() {
  const { startTestServers } = await tsImport("./servers.ts", import.meta.url);
  await startTestServers();
}
