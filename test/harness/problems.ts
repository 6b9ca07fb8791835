import { expect } from "@jest/globals";
import type { HttpResult } from "./context.js";

export const PROBLEMS = "https://remote-builder.tuist.dev/problems/";

/** The response is an RFC 9457 problem of this kind and status, whose detail says what it should. */
export function expectProblem(res: HttpResult, status: number, kind: string, detail: RegExp): void {
  expect({ status: res.status, type: res.body.type }).toEqual({ status, type: PROBLEMS + kind });
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
  expect(typeof res.body.title).toBe("string");
  expect(res.body.detail).toMatch(detail);
}

type Errors = Array<{ path: string; message: string }>;

/** The paths an invalid-request problem names, sorted. */
export const errorPaths = (res: HttpResult) => ((res.body.errors ?? []) as Errors).map((e) => e.path).sort();
