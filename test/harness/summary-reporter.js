// Ends the run with plain lines any CI can read: "tests: N passed, N failed, N skipped", and how
// many tests ran against the real buildkitd and buildx (those under describeReal, whose title
// starts with REAL_MARK: test/integration/support.ts). When the real tools are at hand and such
// tests were part of the run, none of them running fails the run: a suite that skips everything
// real proves nothing.
const REAL_MARK = "real BuildKit:";

export default class SummaryReporter {
  #error = null;

  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    process.stdout.write(
      `tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`,
    );
    const real = results.testResults
      .flatMap((file) => file.testResults)
      .filter((test) => test.ancestorTitles[0]?.startsWith(REAL_MARK));
    if (real.length === 0) return;
    const count = (status) => real.filter((test) => test.status === status).length;
    const ran = count("passed") + count("failed");
    const skip = process.env.RB_TEST_BUILDKIT_SKIP;
    process.stdout.write(
      `real buildkitd/buildx tests: ${ran} ran (${count("passed")} passed), ${count("pending")} skipped` +
        (skip ? ` because ${skip}` : "") +
        "\n",
    );
    if (!skip && ran === 0) {
      this.#error = new Error("the real buildkitd and buildx are here, yet no test against them ran");
      process.stdout.write(`${this.#error.message}\n`);
    }
  }

  getLastError() {
    return this.#error ?? undefined;
  }
}
