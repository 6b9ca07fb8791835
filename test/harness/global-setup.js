// Jest loads global setup outside its transform pipeline, so the TypeScript is loaded through tsx.
import { tsImport } from "tsx/esm/api";

export default async function globalSetup() {
  const { startTestServers } = await tsImport("./servers.ts", import.meta.url);
  const { findBuildkitTools } = await tsImport("./buildkit-tools.ts", import.meta.url);
  await startTestServers();
  // bin/remote-builder.js runs the compiled CLI: the tests that start it test what ships, as of now.
  const { buildService } = await tsImport("../../scripts/build-service.ts", import.meta.url);
  await buildService();
  // Once for the run, before any worker: unpacking the archive is not safe to race.
  const { tools, skip } = findBuildkitTools();
  if (tools) process.env.RB_TEST_BUILDKIT = JSON.stringify(tools);
  else process.env.RB_TEST_BUILDKIT_SKIP = skip;
  // The real kube-apiserver for test/kubernetes/apiserver.test.ts, where ../shared/tools/kube is.
  const { startRealApiServer } = await tsImport("./kube/real-apiserver.ts", import.meta.url);
  const apiServer = startRealApiServer();
  if ("skip" in apiServer) process.env.RB_TEST_KUBE_SKIP = apiServer.skip;
  else {
    process.env.KUBE_APISERVER = apiServer.kubeconfig;
    if (apiServer.dir) process.env.RB_TEST_KUBE_DIR = apiServer.dir;
  }
}
