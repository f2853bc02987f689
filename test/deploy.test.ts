import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse } from "yaml";

const DEPLOY = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));
const PROMETHEUS_SOURCE = fileURLToPath(new URL("../src/observe/prometheus.js", import.meta.url));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const load = (file: string): any => parse(readFileSync(join(DEPLOY, file), "utf8"));

describe("deploy/kubernetes: the manifests hold together (Kubernetes itself cannot run here)", () => {
  const job = load("job.yaml");
  const merge = load("merge-job.yaml");
  const configMap = load("configmap.yaml");
  const secret = load("secret.yaml");
  const pvc = load("results-pvc.yaml");
  const pod = job.spec.template.spec;
  const container = pod.containers[0];
  const env = Object.fromEntries(
    container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
  );

  it("an Indexed Job of N pods, each running shard $JOB_COMPLETION_INDEX of N from one --start-at", () => {
    assert.equal(job.apiVersion, "batch/v1");
    assert.equal(job.kind, "Job");
    assert.equal(job.spec.completionMode, "Indexed");
    assert.equal(job.spec.parallelism, job.spec.completions);
    assert.equal(job.spec.completions, Number(env.SHARDS), "--shard's N is the Job's completions");
    const script = container.args.join(" ");
    assert.match(script, /exec dcpbench run /);
    assert.match(script, /--shard "\$JOB_COMPLETION_INDEX\/\$SHARDS"/);
    assert.match(script, /--start-at "\$START_AT"/);
    assert.match(script, /--out "\$RESULTS\/\$RUN_ID\/shard-\$JOB_COMPLETION_INDEX"/);
    assert.equal(job.spec.backoffLimitPerIndex, 0, "a failed shard is not retried and stops no other");
    // Every variable the command uses comes from the pod's env, its ConfigMap, or Kubernetes (the index, HOME).
    const given = new Set([
      ...Object.keys(env),
      ...Object.keys(configMap.data),
      "JOB_COMPLETION_INDEX",
      "HOME",
    ]);
    for (const [, name] of script.matchAll(/\$([A-Z_]+)/g)) assert.ok(given.has(name), `$${name} is set`);
    assert.equal(container.envFrom[0].configMapRef.name, configMap.metadata.name);
    assert.equal(configMap.kind, "ConfigMap");
    assert.match(configMap.data.START_AT, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("the password only as a file: a Secret volume copied to a private pgpass, never in args or env", () => {
    const volume = pod.volumes.find((v: { secret?: unknown }) => v.secret);
    assert.equal(volume.secret.secretName, secret.metadata.name);
    assert.equal(volume.secret.defaultMode, 0o440);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
    assert.equal(mount.readOnly, true);
    assert.equal(mount.mountPath, dirname(env.PGPASS_SECRET));
    assert.ok(Object.keys(secret.stringData).includes(env.PGPASS_SECRET.split("/").pop()));
    const script = container.args.join(" ");
    assert.match(script, /install -m 600 "\$PGPASS_SECRET" "\$HOME\/\.pgpass"/);
    assert.match(script, /export PGPASSFILE="\$HOME\/\.pgpass"/);
    const password = secret.stringData.pgpass.split(":").pop();
    for (const text of [script, JSON.stringify(container.env), JSON.stringify(configMap.data)])
      assert.ok(!text.includes(password) && !/password=|:[^:@/]+@/.test(text), text);
    assert.equal(pod.securityContext.runAsNonRoot, true);
  });

  it("results on one shared volume, merged by the merge Job; Prometheus scrapes each shard", () => {
    const claim = (spec: { volumes: Array<{ persistentVolumeClaim?: { claimName: string } }> }) =>
      spec.volumes.find((v) => v.persistentVolumeClaim)!.persistentVolumeClaim!.claimName;
    assert.equal(claim(pod), pvc.metadata.name);
    assert.equal(claim(merge.spec.template.spec), pvc.metadata.name);
    assert.deepEqual(pvc.spec.accessModes, ["ReadWriteMany"]);
    assert.match(
      merge.spec.template.spec.containers[0].args.join(" "),
      /dcpbench merge "\$RESULTS\/\$RUN_ID"\/shard-\*\/\*\.json/,
    );
    const annotations = job.spec.template.metadata.annotations;
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(annotations["prometheus.io/port"], env.METRICS_PORT);
    assert.equal(env.METRICS_HOST, "0.0.0.0");
    assert.match(
      container.args.join(" "),
      /--prometheus-port "\$METRICS_PORT" --prometheus-host "\$METRICS_HOST"/,
    );
  });

  it("the Grafana dashboard's queries name metrics dcpbench exports", () => {
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, "grafana-dashboard.json"), "utf8"));
    const exporter = readFileSync(PROMETHEUS_SOURCE, "utf8");
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) =>
      p.targets.map((t) => t.expr),
    );
    assert.ok(exprs.length >= 5);
    for (const e of exprs) {
      for (const [name] of e.matchAll(/dcpbench_[a-z_]+/g))
        assert.ok(exporter.includes(name), `${name} in ${e}`);
      assert.match(e, /run="\$run"/, "every panel follows the run picker");
    }
  });

  it("the image: Node 20 slim, production dependencies only, not root", () => {
    const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
    const stages = dockerfile.split(/^FROM /m).slice(1);
    assert.match(stages.at(-1)!, /^node:20-slim\n/);
    assert.match(stages.at(-1)!, /npm ci --omit=dev/);
    assert.match(stages.at(-1)!, /^USER node$/m);
    assert.match(stages.at(-1)!, /^ENTRYPOINT \["dcpbench"\]$/m);
  });
});
