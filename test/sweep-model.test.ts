import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crossovers, hopLine, hopOf, verdictOf } from "../src/results/sweeps/crossover.js";
import { evaluateSweepGates, parseSweepGate } from "../src/results/sweeps/gates.js";
import { seriesOf, spreadOf, sweepSeries, type SweepSeries } from "../src/results/sweeps/summary.js";
import type { ResultFile } from "../src/schema/result.js";
import { crossoverLines } from "../src/results/sweeps/table.js";
import { poolerBoundOf } from "../src/observe/server-side.js";
import { parseCounts, parseTarget, planDifference, pointLabel, pointOrder } from "../src/sweep/plan.js";
import type { SweepPlan } from "../src/schema/sweep.js";

/** A series from per-client-count repeats: [clients, throughputs, p99s]. */
function series(key: string, txnPooling: boolean, points: Array<[number, number[], number[]]>): SweepSeries {
  return {
    key,
    name: key,
    target: key,
    poolSize: null,
    txnPooling,
    points: points.map(([conns, tput, p99]) => ({
      conns,
      runs: tput.length,
      values: { throughput: spreadOf(tput), p99: spreadOf(p99), p50: spreadOf(p99.map((v) => v / 4)) },
      opP50: { select: p99[0] / 4 },
    })),
  };
}

describe("sweep: the order of points", () => {
  const targets = [
    { name: "direct", uri: "postgresql://h/db", txnPooling: false },
    { name: "pooled", uri: "postgresql://h:6432/db", txnPooling: true },
  ];

  it("interleaves targets at every client count and spreads repeats round by round, alternating the order", () => {
    const order = pointOrder({ conns: [4, 64], poolSizes: null, repeat: 3, targets }).map(pointLabel);
    assert.deepEqual(order, [
      "direct-c4-r1",
      "pooled-c4-r1",
      "direct-c64-r1",
      "pooled-c64-r1",
      "pooled-c4-r2",
      "direct-c4-r2",
      "pooled-c64-r2",
      "direct-c64-r2",
      "direct-c4-r3",
      "pooled-c4-r3",
      "direct-c64-r3",
      "pooled-c64-r3",
    ]);
  });

  it("sweeps pool sizes for the pooled target only", () => {
    const order = pointOrder({ conns: [16], poolSizes: [8, 32], repeat: 1, targets }).map(pointLabel);
    assert.deepEqual(order, ["direct-c16-r1", "pooled-c16-p8-r1", "pooled-c16-p32-r1"]);
  });

  it("sweeps PgBouncer processes for the pooled target only, and names their lines pooled:xN", () => {
    const plan = { conns: [16], poolSizes: [8], pgbouncerProcs: [1, 2], repeat: 1, targets };
    assert.deepEqual(pointOrder(plan).map(pointLabel), [
      "direct-c16-r1",
      "pooled-c16-p8-x1-r1",
      "pooled-c16-p8-x2-r1",
    ]);
    assert.deepEqual(
      seriesOf(plan).map((s) => [s.key, s.name]),
      [
        ["direct", "direct"],
        ["pooled:8:x1", "pooled (pool 8, 1 PgBouncer process)"],
        ["pooled:8:x2", "pooled (pool 8, 2 PgBouncer processes)"],
      ],
    );
    const gate = parseSweepGate(
      "pooled:8:x2.throughput@16<pooled:8:x1+5%",
      ["pooled:8:x1", "pooled:8:x2"],
      [16],
    );
    assert.equal(gate.series, "pooled:8:x2");
    assert.deepEqual(gate.rhs, { series: "pooled:8:x1", pct: 5 });
  });
});

describe("sweep: parsing targets and client counts", () => {
  it("takes only a final ,txn-pooling, so a libpq host list stays in the URI", () => {
    const t = parseTarget("pooled=postgresql://u@x:6432/db?host=a,b,txn-pooling");
    assert.deepEqual(t, { name: "pooled", liveUri: "postgresql://u@x:6432/db?host=a,b", txnPooling: true });
    const d = parseTarget("direct=postgresql://u@x/db?options=-c%20x=txn-pooling");
    assert.equal(d.txnPooling, false);
  });

  it("refuses a target without NAME=, with a bad name or a non-postgres URI, and never prints its password", () => {
    assert.throws(() => parseTarget("postgresql://u:secret@x/db"), /expected NAME=URI/);
    assert.throws(() => parseTarget("9x=postgresql://u@x/db"), /NAME= must come first/);
    for (const spec of [
      "postgresql://u:secret@h/db?sslmode=require",
      "postgresql://u:se=cret@h/db",
      "d=postgresql://u:se=cret@[bad/db",
      "d=x=postgresql://u:secret@h/db",
      "a.b=postgresql://u:secret@x/db",
    ]) {
      assert.throws(
        () => parseTarget(spec),
        (e: Error) => !/secret|se=|cret/.test(e.message),
        spec,
      );
    }
    assert.throws(() => parseTarget("a=http://x/db"), /scheme must be postgresql/);
    assert.throws(
      () => parseTarget("a.b=postgresql://u:secret@x/db"),
      (e: Error) => !e.message.includes("secret") && /\*\*\*/.test(e.message),
    );
  });

  it("client counts: positive integers, each once, sorted", () => {
    assert.deepEqual(parseCounts("64,8,256", "--conns"), [8, 64, 256]);
    assert.throws(() => parseCounts("8,64,8", "--conns"), /8 is given twice/);
    assert.throws(() => parseCounts("8,x", "--conns"), /'x' is not a positive integer/);
    assert.throws(() => parseCounts("0", "--conns"), /not a positive integer/);
  });

  it("--resume names the first option that differs from the index", () => {
    const plan: SweepPlan = {
      workload: "tpcb",
      conns: [4, 64],
      poolSizes: null,
      repeat: 2,
      targets: [],
      run: {
        knobs: {},
        workers: null,
        durationMs: 2000,
        iterations: null,
        rampMs: 0,
        rate: null,
        arrival: "uniform",
        queryMode: "simple",
        driver: "lean",
        connectPerTxn: false,
      },
      reinit: false,
      pauseMs: 2000,
    };
    assert.equal(planDifference(plan, structuredClone(plan)), undefined);
    assert.match(
      planDifference(plan, { ...plan, conns: [4, 128] })!,
      /^conns \(\[4,64\] in the index, \[4,128\] now\)/,
    );
    assert.match(planDifference(plan, { ...plan, run: { ...plan.run, durationMs: 5000 } })!, /^durationMs/);
  });
});

describe("sweep: the crossover, from repeats", () => {
  it("a verdict only where the repeats' ranges do not overlap", () => {
    const s = (v: number[]) => spreadOf(v)!;
    assert.equal(verdictOf(s([100, 110]), s([120, 130]), true), "ahead");
    assert.equal(verdictOf(s([100, 110]), s([90, 95]), true), "behind");
    assert.equal(verdictOf(s([100, 110]), s([109, 130]), true), "tie");
    assert.equal(verdictOf(s([2, 3]), s([1, 1.5]), false), "ahead", "lower p99 is better");
    assert.equal(verdictOf(s([2, 3]), s([2.5, 4]), false), "tie");
  });

  it("direct ahead at low counts, no clear winner in between, pooled ahead from the crossover on", () => {
    const direct = series("direct", false, [
      [4, [100, 105, 110], [1.0, 1.1, 1.2]],
      [64, [100, 102, 104], [5, 6, 7]],
      [256, [60, 62, 64], [40, 45, 50]],
      [1024, [30, 35, 40], [200, 210, 220]],
    ]);
    const pooled = series("pooled", true, [
      [4, [80, 85, 90], [1.3, 1.4, 1.5]],
      [64, [98, 103, 108], [3, 3.5, 4]],
      [256, [90, 95, 99], [20, 22, 24]],
      [1024, [88, 92, 96], [30, 33, 36]],
    ]);
    const [tput, p99] = crossovers([direct, pooled]);
    assert.equal(tput.metric, "throughput");
    assert.deepEqual(
      tput.verdicts.map((v) => v.verdict),
      ["behind", "tie", "ahead", "ahead"],
    );
    assert.equal(tput.from, 256);
    assert.equal(
      tput.line,
      "throughput (pooled vs direct): direct ahead at 4 clients (pooled −19%); no clear winner at 64 clients (pooled +1%); " +
        "pooled ahead from 256 clients (pooled +53% to +163%)",
    );
    assert.equal(p99.from, 64, "p99: pooled's worst repeat beats direct's best from 64 clients");
    assert.match(
      p99.line,
      /^p99 \(pooled vs direct\): direct ahead at 4 clients \(pooled \+27%\); pooled ahead from 64 clients/,
    );
    const [hop] = hopOf([direct, pooled]);
    assert.equal(hop.conns, 4);
    assert.ok(Math.abs(hop.cycleMs.challenger - hop.cycleMs.baseline - 0.075) < 1e-9);
  });

  it("overlapping repeats everywhere: no crossover is claimed", () => {
    const direct = series("direct", false, [
      [8, [100, 120], [1, 2]],
      [128, [100, 120], [1, 2]],
    ]);
    const pooled = series("pooled", true, [
      [8, [110, 130], [1.5, 2.5]],
      [128, [90, 115], [0.5, 1.5]],
    ]);
    const [tput, p99] = crossovers([direct, pooled]);
    assert.equal(tput.from, null);
    assert.equal(
      tput.line,
      "throughput (pooled vs direct): no clear winner between 8 and 128 clients (pooled −7% to +9%)",
    );
    assert.equal(p99.from, null);
    assert.equal(tput.single, false);
  });

  it("one run at a point: nothing is claimed there, however far apart the two runs are", () => {
    const direct = series("direct", false, [
      [8, [100], [1]],
      [128, [50, 52], [9, 10]],
    ]);
    const pooled = series("pooled", true, [
      [8, [10], [9]],
      [128, [90, 95], [2, 3]],
    ]);
    const [tput] = crossovers([direct, pooled]);
    assert.deepEqual(
      tput.verdicts.map((v) => v.verdict),
      ["tie", "ahead"],
    );
    assert.equal(tput.single, true);
    assert.equal(tput.from, 128);
    const lines = crossoverLines([direct, pooled]);
    assert.ok(
      lines.some((l) => /one run at some points: .* nothing is claimed/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith("the hop at 8 clients")),
      "direct's throughput is higher there",
    );
  });

  it("gates: medians at one client count, against another series (with a margin) or a number", () => {
    const direct = series("direct", false, [[512, [100, 110, 120], [10, 11, 12]]]);
    const pooled = series("pooled", true, [[512, [105, 107, 109], [9, 12, 13]]]);
    const keys = ["direct", "pooled"];
    const gate = (e: string) => parseSweepGate(e, keys, [512]);
    const failed = (e: string) => evaluateSweepGates([gate(e)], [direct, pooled]).length > 0;
    assert.equal(failed("pooled.throughput@512<direct"), true, "107 < 110");
    assert.equal(failed("pooled.throughput@512<direct-5%"), false, "107 < 104.5 does not hold");
    assert.equal(failed("pooled.p99@512>direct"), true, "12 > 11");
    assert.equal(failed("pooled.p99@512>direct+10%"), false, "12 > 12.1 does not hold");
    assert.equal(failed("direct.throughput@512>=110"), true);
    assert.throws(() => gate("pooled.throughput@64<direct"), /no point at 64 clients/);
    assert.throws(() => gate("bouncer.throughput@512<direct"), /no series 'bouncer'/);
    assert.throws(() => gate("pooled.tps@512<direct"), /unknown metric 'tps'/);
    assert.throws(() => gate("pooled<direct"), /expected SERIES.METRIC@CLIENTS/);
  });
});

describe("pooler-bound: a PgBouncer at the end of its one core", () => {
  it("is named when it used 90% of a core or more, and only PgBouncer (HAProxy has threads of its own)", () => {
    const cost = (member: string, cpuPct: number | null) => ({
      member,
      cpuSec: null,
      cpuPct,
      memoryMb: null,
    });
    assert.deepEqual(
      poolerBoundOf([
        cost("pgbouncer-1", 95.5),
        cost("pgbouncer-2", 89.9),
        cost("haproxy", 99),
        cost("pgbouncer-3", null),
      ]),
      [{ member: "pgbouncer-1", cpuPct: 95.5 }],
    );
    assert.deepEqual(poolerBoundOf([cost("pgbouncer-1", 90)]), [{ member: "pgbouncer-1", cpuPct: 90 }]);
  });

  it("a sweep's crossover lines say where the pooler bounded the pooled curve", () => {
    const direct = series("direct", false, [
      [64, [100, 101, 102], [5, 5, 5]],
      [1024, [50, 51, 52], [90, 91, 92]],
    ]);
    const pooled = series("pooled", true, [
      [64, [100, 101, 102], [5, 5, 5]],
      [1024, [80, 81, 82], [40, 41, 42]],
    ]);
    pooled.points[1].poolerBound = { runs: 2, member: "pgbouncer-1", cpuPct: 96.4 };
    const lines = crossoverLines([direct, pooled]);
    assert.ok(
      lines.includes(
        "pooler-bound: pooled at 1024 clients (pgbouncer-1 at 96% of a core in 2 of 3 run(s)): a crossover there is the pooler's ceiling, not the database's",
      ),
      lines.join("\n"),
    );
    assert.ok(!lines.some((l) => l.includes("at 64 clients (pgbouncer")), "not where it was not");
  });
  it("a point is pooler-bound when any of its runs was, with the busiest PgBouncer of them", () => {
    const run = (cpuPct?: number) =>
      ({
        summary: {},
        serverSide: { poolerBound: cpuPct === undefined ? [] : [{ member: "pgbouncer-1", cpuPct }] },
      }) as unknown as ResultFile;
    const plan = {
      conns: [64],
      poolSizes: null,
      targets: [{ name: "pooled", uri: "postgresql://h:6432/db", txnPooling: true }],
    } as unknown as SweepPlan;
    const at = (repeat: number, result: ResultFile) => ({
      point: { target: "pooled", conns: 64, poolSize: null, repeat, file: "x", partial: false, exitCode: 0 },
      result,
    });
    const [pooled] = sweepSeries(plan, [at(1, run(93.1)), at(2, run()), at(3, run(97.6))]);
    assert.deepEqual(pooled.points[0].poolerBound, { runs: 2, member: "pgbouncer-1", cpuPct: 97.6 });
    const [clear] = sweepSeries(plan, [at(1, run()), at(2, run())]);
    assert.equal(clear.points[0].poolerBound, undefined);
  });
  it("the hop line says where the pooled cycle's extra time went: queued in the pooler, in the server, elsewhere", () => {
    const direct = series("direct", false, [[8, [100, 101, 102], [4, 4, 4]]]);
    const pooled = series("pooled", true, [[8, [90, 91, 92], [4.4, 4.4, 4.4]]]);
    direct.points[0].split = { poolerWaitMs: null, serverMs: 0.05, restMs: 0.9 };
    pooled.points[0].split = { poolerWaitMs: 0.004, serverMs: 0.052, restMs: 1.061 };
    const [hop] = hopOf([direct, pooled]);
    assert.match(
      hopLine(hop),
      /; of the mean cycle: 0\.004 ms queued in the pooler, the server \+0\.002 ms, elsewhere \+0\.161 ms \(the extra hops, the client\)$/,
    );
    delete pooled.points[0].split;
    assert.doesNotMatch(hopLine(hopOf([direct, pooled])[0]), /of the mean cycle/, "no split, no claim");
  });
});
