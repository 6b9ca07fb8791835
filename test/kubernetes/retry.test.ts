import { describe, expect, it } from "@jest/globals";
import { KubeError, kube } from "../../service/adapters/drivers/kubernetes/retry.js";

/** What client-node throws for an HTTP error: the code and the Status body as text. */
const apiError = (code: number, reason: string) =>
  Object.assign(new Error(`HTTP-Code: ${code}`), {
    code,
    body: JSON.stringify({ kind: "Status", status: "Failure", reason, message: `${reason} happened` }),
  });

function failing(errors: unknown[], value = "done") {
  let calls = 0;
  const call = async () => {
    const err = errors[calls++];
    if (err) throw err;
    return value;
  };
  return { call, calls: () => calls };
}

describe("API calls, retried", () => {
  it("retries 429, 5xx and dropped connections with backoff, then succeeds", async () => {
    const f = failing([
      apiError(503, "ServiceUnavailable"),
      apiError(429, "TooManyRequests"),
      new Error("socket hang up"),
    ]);
    expect(await kube("read pod", f.call, { baseDelayMs: 1 })).toBe("done");
    expect(f.calls()).toBe(4);
  });

  it("does not retry what the request itself got wrong, and says what the server said", async () => {
    const f = failing([apiError(422, "Invalid")]);
    const err = (await kube("create pod rb-1", f.call, { baseDelayMs: 1 }).catch(
      (e: unknown) => e,
    )) as KubeError;
    expect(err).toBeInstanceOf(KubeError);
    expect(err.code).toBe(422);
    expect(err.reason).toBe("Invalid");
    expect(err.message).toBe("create pod rb-1: 422 Invalid happened");
    expect(f.calls()).toBe(1);
  });

  it("treats the codes it is told to ignore as done (a repeated create meets 409, a repeated delete 404)", async () => {
    expect(await kube("delete pod", failing([apiError(404, "NotFound")]).call, { ignore: [404] })).toBeNull();
  });

  it("gives up on a call that does not answer, tries again, and fails after its attempts", async () => {
    let calls = 0;
    const hang = () => {
      calls++;
      return new Promise<string>(() => {});
    };
    const err = (await kube("list nodes", hang, { timeoutMs: 20, attempts: 3, baseDelayMs: 1 }).catch(
      (e: unknown) => e,
    )) as KubeError;
    expect(err.message).toBe("list nodes: no answer within 20 ms");
    expect(err.reason).toBe("Timeout");
    expect(calls).toBe(3);
  });
});
