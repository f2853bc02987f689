import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyError } from "../src/db/errors.js";
import { inlineParams } from "../src/db/query-mode.js";
import { redactUri, validateUri } from "../src/db/uri.js";
import { changePct } from "../src/results/compare/change.js";
import type { Comparison } from "../src/results/compare/compare.js";
import { evaluateGates, parseGate } from "../src/results/compare/gates.js";
import { UsageError } from "../src/errors.js";
import { buildPlan, sharesOf, splitEvenly, type PlanInput } from "../src/plan.js";
import { generatorBoundNote } from "../src/results/generator-bound.js";
import { parseDuration, parseRate } from "../src/options/units.js";
import { resolveKnobs } from "../src/workload/knobs.js";

const base: PlanInput = {
  workload: "select1",
  workloadRef: "select1",
  knobs: {},
  uri: "postgresql://u@h/db",
  cpus: 2,
};

describe("plan", () => {
  it("splits clients as evenly as possible", () => {
    assert.deepEqual(splitEvenly(1024, 4), [256, 256, 256, 256]);
    assert.deepEqual(splitEvenly(10, 4), [3, 3, 2, 2]);
  });

  it("defaults workers to the CPU count, never more than conns", () => {
    assert.equal(buildPlan({ ...base, conns: 1 }).workers, 1);
    assert.equal(buildPlan({ ...base, conns: 100 }).workers, 2);
    assert.equal(buildPlan({ ...base, conns: 100, pin: "1" }).workers, 1, "one per pinned CPU");
    assert.equal(buildPlan({ ...base, conns: 100, pin: "0-3" }).workers, 4);
    assert.equal(buildPlan({ ...base, conns: 100, pin: "1", workers: 3 }).workers, 3);
  });

  it("divides a plan in one place: shard 1 of 3 of 10 clients at 300/s and 7 idle connections, over 2 workers", () => {
    const plan = buildPlan({
      ...base,
      conns: 10,
      idleConns: 7,
      workers: 2,
      rate: "300",
      shard: "1/3",
      duration: "10s",
      warmup: "2s",
      ramp: "4s",
    });
    // Shards take 4, 3, 3 clients; shard 1's are ids 4-6, its rate 300 × 3/10 = 90/s, split 2:1 by its workers;
    // the idle connections 3, 2, 2, shard 1's split 1:1.
    assert.equal(plan.idleConns, 2);
    assert.deepEqual(sharesOf(plan), [
      { index: 0, clients: 2, idleConns: 1, firstClientId: 4, planClients: 10, rate: 60, phase: 1 / 3 },
      { index: 1, clients: 1, idleConns: 1, firstClientId: 6, planClients: 10, rate: 30, phase: 0.5 },
    ]);
    assert.equal(plan.windowFromMs, 6000, "ramp + warm-up, worked out once");
    assert.deepEqual(
      sharesOf(buildPlan({ ...base, conns: 3, workers: 1 })),
      [{ index: 0, clients: 3, idleConns: 0, firstClientId: 0, planClients: 3, phase: 0 }],
      "no shard, closed loop",
    );
    const baseline = buildPlan({ ...base, conns: 3, idleConns: 0, idleEvery: "50s" });
    assert.equal(
      baseline.idleConns,
      undefined,
      "--idle-conns 0 --idle-every 50s: a sweep's baseline, no idle connections",
    );
  });

  it("warms up by default before a --duration window, on an interval boundary; never with --iterations", () => {
    const w = (extra: Partial<PlanInput>) => buildPlan({ ...base, ...extra });
    assert.equal(w({ duration: "60s" }).warmupMs, 2000);
    assert.deepEqual(
      w({ duration: "60s" }).warmupAuto,
      { maxMs: 60_000 },
      "ends at steady state, 60 s at most",
    );
    assert.equal(
      w({ duration: "60s" }).plannedEndMs,
      120_000,
      "the window keeps its length, after the longest warm-up",
    );
    assert.equal(w({ duration: "60s", warmup: "2s" }).warmupAuto, undefined, "a fixed warm-up");
    assert.equal(w({ duration: "60s", warmup: "2s" }).plannedEndMs, 62_000);
    assert.equal(w({ duration: "60s", timedFaults: true }).warmupAuto, undefined, "faults: fixed");
    assert.equal(w({ duration: "60s", shard: "0/2" }).warmupAuto, undefined, "shards: fixed");
    assert.equal(w({ duration: "60s", shard: "0/2" }).warmupMs, 2000);
    assert.throws(() => w({ duration: "60s", shard: "0/2", warmup: "auto" }), /--warmup auto: shards/);
    assert.throws(() => w({ duration: "60s", warmup: "2s", warmupMax: "10s" }), /--warmup-max needs/);
    assert.throws(() => w({ duration: "60s", warmup: "auto", warmupMax: "1s" }), /shorter than the least/);
    assert.deepEqual(w({ duration: "60s", warmupMax: "10s" }).warmupAuto, { maxMs: 10_000 });
    assert.equal(w({ duration: "60s" }).drainMs, 30_000);
    assert.equal(w({ duration: "60s", drain: "5s" }).drainMs, 5000);
    assert.equal(w({ duration: "10s" }).warmupMs, 1000);
    assert.equal(w({ duration: "3s" }).warmupMs, 0);
    assert.equal(w({ duration: "60s", iterations: 100 }).warmupMs, 0);
    assert.equal(w({ iterations: 100 }).warmupMs, 0);
    assert.equal(w({ duration: "60s", warmup: "0" }).warmupMs, 0);
    assert.equal(w({ duration: "60s", warmup: "1500ms" }).warmupMs, 2000, "rounded up to whole intervals");
    assert.equal(
      w({ duration: "60s", ramp: "2500ms", warmup: "1s" }).warmupMs,
      1500,
      "ramp + warm-up end on one",
    );
    assert.throws(() => w({ iterations: 10, warmup: "2s" }), /--warmup needs --duration/);
  });

  it("says when the load generator's own start lag bounds the tail it reports", () => {
    const summary = (lagP99: number, cycleP99: number) =>
      ({ __lag__: { count: 10, p99: lagP99 }, __cycle__: { count: 10, p99: cycleP99 } }) as never;
    const plan = buildPlan({ ...base, conns: 8, workers: 1, rate: "1000", duration: "10s" });
    assert.equal(generatorBoundNote({ label: "a", plan, summary: summary(0.2, 1) }), undefined);
    assert.equal(
      generatorBoundNote({ label: "a", plan, summary: summary(0.5, 1) }),
      "a: this tail is bounded by the load generator — its own start lag p99 0.5 ms is 50% of the cycle's p99 1 ms; --pin or fewer clients per worker (now 8) may help",
    );
    assert.equal(
      generatorBoundNote({ label: "a", plan, summary: { __cycle__: { count: 1, p99: 1 } } as never }),
      undefined,
    );
    // A cold database stalled, and the starts queued behind it: the lag is a backlog, not the generator's.
    const stalls = [
      { from: 2.5, to: 3, seconds: 0.5 },
      { from: 3.5, to: 4.25, seconds: 0.75 },
    ];
    assert.equal(
      generatorBoundNote({ label: "a", plan, summary: summary(3000, 3001), stalls }),
      "a: its start lag p99 3000 ms is 100% of the cycle's p99 3001 ms: a backlog behind 2 stall(s) of the target (1.3 s in all), not the load generator's own lag",
    );
    // A stall still open at the end has no length of its own.
    assert.match(
      generatorBoundNote({
        label: "a",
        plan,
        summary: summary(5, 6),
        stalls: [{ from: 9, to: null, seconds: null }],
      })!,
      /a backlog behind 1 stall\(s\) of the target \(0\.0 s and one until the end\)/,
    );
  });

  it("rejects bad values with one-line usage errors", () => {
    const bad: Array<[Partial<PlanInput>, RegExp]> = [
      [{ conns: 0 }, /--conns must be a positive integer/],
      [{ conns: 2, workers: 4 }, /--workers \(4\) cannot exceed --conns \(2\)/],
      [{ duration: "ten" }, /is not a duration/],
      [{ rate: "-5" }, /not a positive rate/],
      [{ txnPooling: true, queryMode: "prepared" }, /prepared cannot be used with --txn-pooling/],
      [{ queryMode: "turbo" }, /--query-mode must be one of/],
      [{ uri: "mysql://x@y/z" }, /scheme must be postgresql/],
      [{ label: "a b" }, /--label/],
      [{ arrival: "poisson" }, /--arrival needs --rate/],
      [{ pin: "1-" }, /--pin: '1-' is not a list of CPUs/],
    ];
    for (const [input, re] of bad) {
      assert.throws(
        () => buildPlan({ ...base, ...input }),
        (e: Error) => e instanceof UsageError && re.test(e.message),
      );
    }
  });

  it("labels pooled runs and parses durations and rates", () => {
    assert.equal(buildPlan({ ...base, txnPooling: true }).label, "pooled");
    assert.equal(parseDuration("1m30s", "x"), 90_000);
    assert.equal(parseDuration("250ms", "x"), 250);
    assert.equal(parseDuration("2", "x"), 2000);
    assert.equal(parseRate("300/m", "x"), 5);
    assert.deepEqual(buildPlan({ ...base, pin: "3,0-1" }).pin, [3, 0, 1]);
    assert.equal(buildPlan(base).pin, undefined);
  });
});

describe("knobs", () => {
  const specs = {
    batch_size: { default: 64, min: 1, description: "" },
    payload: { default: "jsonb", choices: ["jsonb", "text"], description: "" },
    on: { default: false, description: "" },
  };
  it("types values from the defaults; --set wins over --args", () => {
    const k = resolveKnobs("w", specs, '{"batch_size": 8, "on": true}', ["batch_size=16", "payload=text"]);
    assert.deepEqual(k, { batch_size: 16, payload: "text", on: true });
  });
  it("rejects unknown keys and bad values", () => {
    assert.throws(
      () => resolveKnobs("w", specs, undefined, ["nope=1"]),
      /unknown knob 'nope' for workload w/,
    );
    assert.throws(() => resolveKnobs("w", specs, undefined, ["batch_size=x"]), /not a number/);
    assert.throws(() => resolveKnobs("w", specs, undefined, ["batch_size=0"]), /≥ 1/);
    assert.throws(() => resolveKnobs("w", specs, undefined, ["payload=xml"]), /one of jsonb, text/);
    assert.throws(() => resolveKnobs("w", specs, "{bad", []), /--args: not valid JSON/);
  });
});

describe("regression gates", () => {
  it("a change from zero (no errors before, some now) crosses errors>+N%", () => {
    assert.equal(changePct(0, 5), Infinity);
    assert.equal(changePct(0, 0), 0);
    const row = {
      op: "x",
      metric: "errors" as const,
      values: [0, 7],
      changes: [undefined, Infinity],
      lowerIsBetter: true,
    };
    const c = {
      runs: [{ label: "base" }, { label: "new" }],
      rows: [row],
      server: [],
      warnings: [],
    } as unknown as Comparison;
    const failures = evaluateGates([parseGate("errors>+10%")], c);
    assert.equal(failures.length, 1);
    assert.match(failures[0].message, /x errors \+∞% \(from 0\) \(new vs base\)/);
  });
});

describe("db helpers", () => {
  it("inlines parameters as quoted literals for the simple protocol", () => {
    assert.equal(inlineParams("SELECT $1, $2, $10", [1, "it's", null]), "SELECT '1', 'it''s', $10");
    assert.equal(inlineParams("SELECT $1", [[1, -2]]), "SELECT '{1,-2}'"); // numbers: no per-element quoting
    assert.equal(inlineParams("SELECT $1", [[1, "a,b"]]), 'SELECT \'{"1","a,b"}\''); // else pg's own form
    // eslint-disable-next-line no-sparse-arrays
    assert.equal(inlineParams("SELECT $1", [[1, , 3]]), 'SELECT \'{"1",NULL,"3"}\''); // a hole is NULL
  });
  it("refuses an '@' after the host that an unencoded password leaves, not one in a parameter's value", () => {
    for (const bad of ["postgresql://u:123/x@h/db", "postgresql://u:12?x@h/db", "postgresql://u:12@h/db#x@y"])
      assert.throws(() => validateUri(bad), /an '@' after the host .*percent-encoded/, bad);
    assert.equal(validateUri("postgresql://u@h/db?application_name=me@host").hostname, "h");
    assert.equal(validateUri("postgresql://u:p%40ss@h:5432/db").password, "p%40ss");
  });

  it("redacts passwords, also where the URL parser cannot help", () => {
    assert.equal(redactUri("postgresql://u:12#34@h/db"), "postgresql://u:***@h/db");
    assert.equal(
      redactUri("x=postgresql://u:s3cret@h/db"),
      "x=postgresql://u:***@h/db",
      "a URI after other text",
    );
    assert.equal(redactUri("host=db user=u password=s3cret"), "host=db user=u password=***");
    assert.equal(redactUri("postgresql://u:p@ss@h/db?x=1"), "postgresql://u:***@h/db?x=1");
    assert.equal(redactUri("postgresql://u:secret@h:5432/db"), "postgresql://u:***@h:5432/db");
    assert.ok(!redactUri("postgresql://u@h/db?password=secret").includes("secret"));
  });
  it("classifies errors", () => {
    assert.equal(classifyError({ code: "40001", message: "x" }).cls, "serialization");
    assert.equal(classifyError({ code: "57P01", message: "terminating" }).cls, "connection");
    assert.equal(classifyError(new Error("Connection terminated unexpectedly")).cls, "connection");
    assert.equal(classifyError({ code: "57014", message: "canceling" }).cls, "timeout");
    assert.equal(classifyError({ code: "23505", message: "dup" }).cls, "other");
  });
});
