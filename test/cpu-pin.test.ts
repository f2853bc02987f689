import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import { parseCpuList } from "../src/options/cpu-list.js";
import { allowedCpus, findTaskset, pinnedFork } from "../src/runner/cpu-pin.js";

describe("--pin's CPU lists and taskset", () => {
  it("reads CPU lists as taskset and Linux write them, and refuses anything else", () => {
    assert.deepEqual(parseCpuList("1"), [1]);
    assert.deepEqual(parseCpuList("0,2"), [0, 2]);
    assert.deepEqual(parseCpuList("2-5"), [2, 3, 4, 5]);
    assert.deepEqual(parseCpuList("4,0-1,1"), [4, 0, 1], "in the order given, each once");
    for (const bad of ["", "a", "1,", ",1", "3-1", "1-", "-1", "1.5", "0-4096", "1 2"]) {
      assert.equal(parseCpuList(bad), undefined, `'${bad}'`);
    }
  });

  it("knows which CPUs the process may use, from a status file", () => {
    const dir = mkdtempSync(join(tmpdir(), "dcpbench-pin-"));
    const status = join(dir, "status");
    writeFileSync(status, "Name:\tnode\nCpus_allowed:\t0d\nCpus_allowed_list:\t0,2-3\nMems_allowed:\t1\n");
    assert.deepEqual(allowedCpus(status), [0, 2, 3]);
    assert.equal(allowedCpus(join(dir, "missing")), undefined);
  });

  it("finds taskset on PATH (an executable file), and says when it is not there", () => {
    const empty = mkdtempSync(join(tmpdir(), "dcpbench-pin-"));
    const bin = mkdtempSync(join(tmpdir(), "dcpbench-pin-"));
    writeFileSync(join(empty, "taskset"), "not executable");
    writeFileSync(join(bin, "taskset"), "#!/bin/sh\n");
    chmodSync(join(bin, "taskset"), 0o755);
    assert.equal(findTaskset(empty), undefined);
    assert.equal(findTaskset([empty, bin].join(delimiter)), join(bin, "taskset"));
  });

  it("forks Node through taskset, with the worker's own flags after it", () => {
    assert.deepEqual(pinnedFork(3, "/usr/bin/taskset", ["--single-threaded-gc"]), {
      execPath: "/usr/bin/taskset",
      execArgv: ["-c", "3", process.execPath, "--single-threaded-gc"],
    });
  });
});
