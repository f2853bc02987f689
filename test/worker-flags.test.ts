import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerExecArgv } from "../src/runner/worker-handle.js";

describe("the workers' Node flags", () => {
  it("keep the runner's flags, add single-threaded GC, and never the code of node -e / -p", () => {
    assert.deepEqual(workerExecArgv(["--max-old-space-size=512"]), [
      "--max-old-space-size=512",
      "--single-threaded-gc",
    ]);
    assert.deepEqual(workerExecArgv(["-e", "run()", "--trace-gc"]), ["--trace-gc", "--single-threaded-gc"]);
    assert.deepEqual(workerExecArgv(["--print", "run()"]), ["--single-threaded-gc"]);
    assert.deepEqual(workerExecArgv(["--eval=run()", "-p", "x"]), ["--single-threaded-gc"]);
    // The bin's own flags (cli.ts's first line) already include it: once is enough.
    assert.deepEqual(workerExecArgv(["--single-threaded-gc", "--no-memory-reducer"]), [
      "--single-threaded-gc",
      "--no-memory-reducer",
    ]);
  });
});
