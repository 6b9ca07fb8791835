import { tsImport } from "tsx/esm/api";

export default async function globalTeardown() {
  const { stopTestServers } = await tsImport("./servers.ts", import.meta.url);
  await stopTestServers();
  if (process.env.RB_TEST_KUBE_DIR) {
    const { stopRealApiServer } = await tsImport("./kube/real-apiserver.ts", import.meta.url);
    stopRealApiServer(process.env.RB_TEST_KUBE_DIR);
  }
}
