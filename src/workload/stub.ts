/** The commented starting point `dcpbench new-workload NAME` writes (dbworkload has `util gen_stub`). */
export function workloadStub(name: string): string {
  return `// ${name}: a dcpbench workload. Run it with:
//   npx dcpbench run ./${name}.mjs --conns 16 --duration 30s --set delay=50
// The harness measures every op, retries transactions on serialization failures, reconnects lost
// connections and counts errors: none of that belongs here. See docs/workloads.md, "Write your own workload".

export default {
  name: "${name}",
  description: "what this workload models, in one line",
  // The names of the ops a cycle can return: lets dcpbench check --threshold names before the run.
  opNames: () => ["read", "write"],

  // Knobs, settable with --set key=value or --args '{"key": value}'. The type of each default is the type
  // of the knob; an unknown key is an error.
  knobs: {
    read_freq: { default: 80, min: 0, max: 100, description: "% of cycles that run the read" },
    delay: { default: 10, min: 0, description: "think time before each cycle, in ms" },
  },

  // Optional, once per client before the run starts (not timed): find ids, warm caches, keep per-client
  // state in ctx.state. Do not create tables here (clients run it concurrently); use 'dcpbench init' or SQL.
  async setup(session, ctx) {
    const { rows } = await session.query("SELECT current_setting('server_version') AS v");
    ctx.state.serverVersion = rows[0].v;
  },

  // Optional: closed-loop think time before each cycle, in ms (not timed; ignored with --rate).
  think: (ctx) => ctx.knobs.delay,

  // The ordered ops of one cycle. An op its frequency roll skips is returned as { name, skip: true }:
  // it is counted as skipped, never timed.
  cycle(ctx) {
    return [
      ctx.chance(ctx.knobs.read_freq)
        ? { name: "read", run: (session) => session.query("SELECT $1::int + 1 AS n", [ctx.randomInt(1, 1000)]) }
        : { name: "read", skip: true },
      {
        name: "write",
        // A transaction: BEGIN … COMMIT, run again by the harness on 40001 (fn must be safe to repeat).
        run: (session) =>
          session.transaction(async (tx) => {
            await tx.query("SELECT now()");
            await tx.sleep(ctx.randomInt(1, 5)); // app think time inside the transaction (timed)
          }),
      },
    ];
  },
};
`;
}
