import { describe, expect, it } from "@jest/globals";
import { jobResult } from "../../service/client/session.js";

describe("a job's result in each CI's words", () => {
  it.each([
    ["success", "success"],
    ["SUCCESS", "success"],
    ["failure", "failure"],
    ["failed", "failure"],
    ["UNSTABLE", "failure"],
    ["cancelled", "cancelled"],
    ["canceled", "cancelled"],
    ["ABORTED", "cancelled"],
    ["maybe", null],
    ["", null],
  ] as const)("%s → %s", (word, result) => {
    expect(jobResult(word)).toBe(result);
  });
});
