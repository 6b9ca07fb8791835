import { ApiClient } from "../service/client/api-client.js";
import { keeperProcess } from "../service/client/keeper.js";
import { credentialSource } from "./credential.js";
import { readInputs } from "./inputs.js";
import { USER_AGENT } from "./version.js";

/** The detached heartbeat process main starts; post stops it. It inherits the step's inputs. */
export async function keepAliveProcess(): Promise<void> {
  const inputs = readInputs();
  const auth = credentialSource(inputs, process.env.RB_KEEPER_CREDENTIAL);
  await keeperProcess(new ApiClient({ serverUrl: inputs.serverUrl, auth, userAgent: USER_AGENT }));
}
