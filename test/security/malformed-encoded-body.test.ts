import { Writable } from "node:stream";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { type HttpResult, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";

/**
 * A body whose bytes are not what its Content-Encoding says. It once got a 500 and a stack trace
 * in the log at error level: a client's mistake (or anyone's probe) raised an alarm meant for the
 * service's own faults.
 */
describe("a body that does not decode as its Content-Encoding says", () => {
  const logLines: string[] = [];
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  let service: TestService;
  let token: string;
  beforeAll(async () => {
    service = await startTestService({}, { logger: pino({ level: "trace" }, logSink) });
    ({ token } = await service.account({ plan: "team", concurrencyLimit: 10 }));
  });
  afterAll(async () => {
    await service.stop();
  });

  /** POST /api/v1/builds with raw bytes under a Content-Encoding, over real HTTP. */
  async function post(encoding: string, body: Buffer): Promise<HttpResult> {
    const response = await fetch(`${service.url}/api/v1/builds`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "content-encoding": encoding,
      },
      body,
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  const json = Buffer.from('{"shape":"small"}');
  /** Log lines at error level or above, or carrying a stack. */
  const alarms = () =>
    logLines.filter(
      (line) => (JSON.parse(line) as { level: number }).level >= 50 || line.includes('"stack"'),
    );

  it.each([
    ["gzip", "plain JSON", json],
    ["gzip", "a truncated stream", gzipSync(json).subarray(0, 12)],
    ["deflate", "plain JSON", json],
    ["br", "plain JSON", json],
    ["GZIP", "plain text", Buffer.from("not compressed at all")],
  ])("refuses %s that is %s with 400 invalid-request, and logs no error", async (encoding, _what, body) => {
    const res = await post(encoding, body);
    expectProblem(
      res,
      400,
      "invalid-request",
      new RegExp(`^The body is not valid "${encoding}" data, as its Content-Encoding says`),
    );
    expect(alarms()).toEqual([]);
  });

  it.each(["compress", "x-gzip, gzip", "zstd-but-not-really"])(
    "refuses the unknown Content-Encoding %j with 415 unsupported-media-type",
    async (encoding) => {
      const res = await post(encoding, json);
      expectProblem(
        res,
        415,
        "unsupported-media-type",
        /Content-Encoding ".*" is not one this service reads: send it uncompressed, or as gzip, deflate or br\./,
      );
      expect(alarms()).toEqual([]);
    },
  );

  it.each([
    ["gzip", gzipSync(json)],
    ["deflate", deflateSync(json)],
    ["br", brotliCompressSync(json)],
  ])("still takes a well-formed %s body", async (encoding, body) => {
    const res = await post(encoding, body);
    expect(res.status).toBe(201);
    await fetch(`${service.url}/api/v1/builds/${String(res.body.id)}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: '{"result":"success"}',
    });
  });

  it("still says when well-formed gzip holds invalid JSON", async () => {
    const res = await post("gzip", gzipSync('{"shape":'));
    expectProblem(res, 400, "invalid-request", /^The body is not valid JSON\.$/);
    expect(alarms()).toEqual([]);
  });
});
