import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { Job } from "kubernetes-models/batch/v1/Job";
import ts from "typescript";
import { parse, parseAllDocuments } from "yaml";
import { parseStartAt } from "../src/options/shard.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEPLOY = join(ROOT, "deploy/kubernetes/");
const PROMETHEUS_SOURCE = fileURLToPath(new URL("../src/outputs/prometheus.js", import.meta.url));
// Manifests are free-form YAML: the tests below check their shape against the API's own types instead.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;
const load = (file: string): Obj => parse(readFileSync(join(DEPLOY, file), "utf8"));
const made: string[] = [];
const tmp = (prefix: string) => {
  made.push(mkdtempSync(join(tmpdir(), prefix)));
  return made.at(-1)!;
};
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The kustomization's generators as kustomize writes them (without the hash suffix): name, labels, data. */
function generated(kustomization: Obj, dir = DEPLOY): Obj[] {
  const meta = (g: Obj) => ({ name: g.name, ...(g.options?.labels ? { labels: g.options.labels } : {}) });
  const pairs = (g: Obj, read: (file: string) => string) =>
    Object.fromEntries([
      ...(g.literals ?? []).map((l: string) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ...(g.files ?? []).map((f: string) => [basename(f), read(f)]),
    ]);
  const text = (f: string) => readFileSync(join(dir, f), "utf8");
  // The real pgpass is never in the repository: its .example stands in for it, as the docs say to copy it.
  const secretText = (f: string) =>
    existsSync(join(dir, f)) ? text(f) : readFileSync(join(dir, `${f}.example`), "utf8");
  return [
    ...(kustomization.configMapGenerator ?? []).map((g: Obj) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(g),
      data: pairs(g, text),
    })),
    ...(kustomization.secretGenerator ?? []).map((g: Obj) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(g),
      type: g.type ?? "Opaque",
      data: Object.fromEntries(
        Object.entries(pairs(g, secretText)).map(([k, v]) => [
          k,
          Buffer.from(v as string).toString("base64"),
        ]),
      ),
    })),
  ];
}

/** Every object the base produces, before kustomize's replacements: its resource files, then its generators. */
function baseObjects(dir = DEPLOY): Obj[] {
  const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
  return [
    ...kustomization.resources.map((f: string) => parse(readFileSync(join(dir, f), "utf8"))),
    ...generated(kustomization, dir),
  ];
}

/**
 * Kustomize's fieldPath ("spec.template.spec.containers.[name=dcpbench].env.[name=SHARDS].value"): the parent
 * object and the key of the field it names, or undefined where a step is missing (kustomize then fails).
 */
function field(obj: Obj, path: string): { parent: Obj; key: string } | undefined {
  const steps = path.split(".");
  let node = obj;
  for (const step of steps.slice(0, -1)) {
    const select = /^\[(.+)=(.+)\]$/.exec(step);
    node = select ? node?.find?.((e: Obj) => String(e[select[1]]) === select[2]) : node?.[step];
    if (node === undefined || node === null) return undefined;
  }
  const key = steps.at(-1)!;
  return key in node ? { parent: node, key } : undefined;
}

/** Kustomize's replacements, as it applies them: the source's value, the target's type kept (int stays int). */
function applyReplacements(objects: Obj[], replacements: Obj[]): void {
  const matches = (o: Obj, s: Obj) =>
    (!s.kind || o.kind === s.kind) && (!s.name || o.metadata?.name === s.name);
  for (const r of replacements) {
    const sources = objects.filter((o) => matches(o, r.source));
    assert.equal(sources.length, 1, `one source for ${JSON.stringify(r.source)}`);
    const from = field(sources[0], r.source.fieldPath);
    assert.ok(from, `${r.source.fieldPath} in ${r.source.kind}/${r.source.name}`);
    const value = String(from.parent[from.key]);
    for (const t of r.targets) {
      const targets = objects.filter((o) => matches(o, t.select));
      assert.ok(targets.length > 0, `a target for ${JSON.stringify(t.select)}`);
      for (const o of targets)
        for (const path of t.fieldPaths) {
          const to = field(o, path);
          assert.ok(to, `${path} exists in ${o.kind}/${o.metadata.name} (kustomize fails on a missing one)`);
          to.parent[to.key] = typeof to.parent[to.key] === "number" ? Number(value) : value;
        }
    }
  }
}

/** Per apiVersion and kind: kubernetes-models' class, and its module (whose interface is I + the kind). */
const MODELS: Record<string, { Model: new (o: Obj) => { validate(): void }; module: string }> = {
  "batch/v1 Job": { Model: Job, module: "kubernetes-models/batch/v1/Job" },
  "v1 ConfigMap": { Model: ConfigMap, module: "kubernetes-models/v1/ConfigMap" },
  "v1 Secret": { Model: Secret, module: "kubernetes-models/v1/Secret" },
  "v1 PersistentVolumeClaim": {
    Model: PersistentVolumeClaim,
    module: "kubernetes-models/v1/PersistentVolumeClaim",
  },
  "v1 Pod": { Model: Pod, module: "kubernetes-models/v1/Pod" },
};
const kindOf = (o: Obj) => `${o.apiVersion} ${o.kind}`;

/** kubernetes-models' validate(): the API's OpenAPI schema (types, formats, enums, required fields). */
function validateModel(o: Obj): void {
  assert.ok(MODELS[kindOf(o)], `a model for ${kindOf(o)}`);
  const { Model } = MODELS[kindOf(o)];
  assert.doesNotThrow(() => new Model(o).validate(), `${kindOf(o)} ${o.metadata?.name}`);
}

/**
 * The schema lets unknown fields through, which `kubectl apply` refuses (strict field validation): so each
 * object is also type-checked as an object literal of the API's TypeScript type, where any field the API does
 * not have is an error (TypeScript reports the first one of each object). Returns the compiler's messages.
 */
function unknownFields(objects: Obj[]): string[] {
  const file = join(ROOT, "test", "__manifests__.ts");
  const kinds = [...new Set(objects.map(kindOf))];
  const source = [
    ...kinds.map((k, i) => `import type { I${k.split(" ")[1]} as T${i} } from "${MODELS[k].module}";`),
    ...objects.map((o, i) => `export const m${i}: T${kinds.indexOf(kindOf(o))} = ${JSON.stringify(o)};`),
  ].join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  // The source lives in memory, at a path inside the repository so that node_modules resolves from it.
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile.call(host, f, lang, ...rest);
  host.fileExists = (f) => f === file || fileExists.call(host, f);
  host.readFile = (f) => (f === file ? source : readFile.call(host, f));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "));
}

/** The pods of both Jobs, with the Job's file name. */
const podsOf = (objects: Obj[]): Array<[string, Obj]> =>
  objects.filter((o) => o.kind === "Job").map((o) => [o.metadata.name, o.spec.template.spec]);

/** A Kubernetes quantity in base units (cores, bytes). */
function quantity(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  assert.ok(m, `a quantity: ${q}`);
  const unit: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * (m[2] ? unit[m[2]] : 1);
}

/** kubectl, whose built-in kustomize renders the base; absent on some machines, where its tests skip. */
const kubectl = (() => {
  const r = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : undefined;
})();

/** deploy/ copied to a temporary directory, less any local pgpass and run overlays: the repo is not touched. */
function deployCopy(): string {
  const dir = tmp("dcpbench-deploy-");
  cpSync(join(ROOT, "deploy"), join(dir, "deploy"), { recursive: true });
  for (const leftover of ["deploy/runs", "deploy/kubernetes/pgpass"])
    rmSync(join(dir, leftover), { recursive: true, force: true });
  return realpathSync(join(dir, "deploy"));
}

const newRun = (script: string, args: string[]) => spawnSync("sh", [script, ...args], { encoding: "utf8" });

describe("deploy/kubernetes: the manifests hold together (Kubernetes itself cannot run here)", () => {
  const job = load("job.yaml");
  const merge = load("merge-job.yaml");
  const configMap = load("configmap.yaml");
  const kustomization = load("kustomization.yaml");
  const [runConfigMap, dashboardConfigMap, secret] = generated(kustomization);
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
    assert.equal(job.spec.maxFailedIndexes, undefined, "so every other shard runs to its end");
    // Every variable the command uses comes from the pod's env, its ConfigMaps, or Kubernetes (the index, HOME).
    const given = new Set([
      ...Object.keys(env),
      ...Object.keys(configMap.data),
      ...Object.keys(runConfigMap.data),
      "JOB_COMPLETION_INDEX",
      "HOME",
    ]);
    for (const [, name] of script.matchAll(/\$([A-Z_]+)/g)) assert.ok(given.has(name), `$${name} is set`);
    assert.equal(container.envFrom[0].configMapRef.name, configMap.metadata.name);
    assert.equal(container.envFrom[1].configMapRef.name, runConfigMap.metadata.name);
    assert.equal(configMap.kind, "ConfigMap");
    assert.equal(configMap.data.START_AT, undefined, "the plan holds no per-run value");
    // The base's START_AT is refused by dcpbench, so a base applied without new-run.sh fails at once.
    assert.throws(() => parseStartAt(runConfigMap.data.START_AT), /not an RFC 3339 time/);
  });

  it("the password only as a file: a Secret volume copied to a private pgpass, never in args or env", () => {
    const volume = pod.volumes.find((v: { secret?: unknown }) => v.secret);
    assert.equal(volume.secret.secretName, secret.metadata.name);
    assert.equal(volume.secret.defaultMode, 0o440);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
    assert.equal(mount.readOnly, true);
    assert.equal(mount.mountPath, dirname(env.PGPASS_SECRET));
    assert.ok(Object.keys(secret.data).includes(env.PGPASS_SECRET.split("/").pop()));
    const script = container.args.join(" ");
    assert.match(script, /install -m 600 "\$PGPASS_SECRET" "\$HOME\/\.pgpass"/);
    assert.match(script, /export PGPASSFILE="\$HOME\/\.pgpass"/);
    const example = readFileSync(join(DEPLOY, "pgpass.example"), "utf8").trim();
    const password = example.split(":").pop()!;
    for (const text of [script, JSON.stringify(container.env), JSON.stringify(configMap.data)])
      assert.ok(!text.includes(password) && !/password=|:[^:@/]+@/.test(text), text);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.match(example, /^[^:\s]+:\d+:[^:]+:[^:]+:[^:]+$/, "one libpq password-file line, no comment");
  });

  it("no password can be applied from the repository: the Secret is generated from a file git ignores", () => {
    assert.ok(!existsSync(join(DEPLOY, "secret.yaml")), "no Secret manifest with change-me to apply");
    const gen = kustomization.secretGenerator.find((g: Obj) => g.name === secret.metadata.name);
    assert.deepEqual(gen.files, ["pgpass"]);
    const ignored = readFileSync(join(ROOT, "deploy/.gitignore"), "utf8").split("\n");
    assert.ok(ignored.includes("kubernetes/pgpass"), "deploy/.gitignore keeps the password file out of git");
    // Nothing kustomize reads from the repository holds the example's password.
    for (const f of [
      ...kustomization.resources,
      ...kustomization.configMapGenerator.flatMap((g: Obj) => g.files ?? []),
    ])
      assert.ok(!readFileSync(join(DEPLOY, f), "utf8").includes("change-me"), f);
    assert.ok(!readFileSync(join(DEPLOY, "kustomization.yaml"), "utf8").match(/^[^#]*change-me/m));
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
    // The merge reads the same run's RUN_ID: it is in the same kustomization, held back until started.
    assert.deepEqual(
      merge.spec.template.spec.containers[0].envFrom.map((e: Obj) => e.configMapRef.name),
      [configMap.metadata.name, runConfigMap.metadata.name],
    );
    assert.equal(merge.spec.suspend, true, "the merge waits to be started after the shards");
    assert.ok(kustomization.resources.includes("merge-job.yaml"));
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

  it("the dashboard as a ConfigMap generated from grafana-dashboard.json, labelled for the Grafana sidecar", () => {
    const gen = kustomization.configMapGenerator.find(
      (g: Obj) => g.name === dashboardConfigMap.metadata.name,
    );
    assert.deepEqual(gen.files, ["grafana-dashboard.json"], "the file itself, not a copy");
    assert.equal(gen.options.labels.grafana_dashboard, "1", "kube-prometheus-stack's sidecar label");
    assert.equal(gen.options.disableNameSuffixHash, true, "an edit replaces the dashboard, not adds one");
    assert.equal(
      dashboardConfigMap.data["grafana-dashboard.json"],
      readFileSync(join(DEPLOY, "grafana-dashboard.json"), "utf8"),
    );
    // A ConfigMap holds 1 MiB, and client-side apply's annotation a quarter of that.
    assert.ok(Buffer.byteLength(dashboardConfigMap.data["grafana-dashboard.json"]) < 256 * 1024);
  });

  it("the PodMonitor scrapes the shards' metrics port, selected by their labels", () => {
    const monitor = parse(readFileSync(join(DEPLOY, "prometheus-operator/podmonitor.yaml"), "utf8"));
    const sub = parse(readFileSync(join(DEPLOY, "prometheus-operator/kustomization.yaml"), "utf8"));
    assert.deepEqual(sub.resources, ["podmonitor.yaml"]);
    assert.equal(monitor.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(monitor.kind, "PodMonitor");
    assert.deepEqual(Object.keys(monitor.spec).sort(), ["podMetricsEndpoints", "selector"]);
    const labels = job.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(labels[k], v, k);
    assert.equal(merge.spec.template.metadata.labels["app.kubernetes.io/component"], "merge");
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    assert.deepEqual(Object.keys(endpoint).sort(), ["interval", "path", "port"]);
    assert.equal(container.ports.find((p: Obj) => p.name === endpoint.port).containerPort, 9464);
    assert.equal(endpoint.path, job.spec.template.metadata.annotations["prometheus.io/path"]);
    // The CRD's own schema is not in kubernetes-models; what it shares with core types is checked by them:
    // its metadata is an ObjectMeta and its selector a LabelSelector (here, inside a Pod and a Job).
    validateModel({ apiVersion: "v1", kind: "Pod", metadata: monitor.metadata, spec: { containers: [] } });
    const probe = structuredClone(job);
    probe.spec.selector = monitor.spec.selector;
    validateModel(probe);
  });
});

describe("deploy/kubernetes: every object checked against the Kubernetes API's schemas (kubernetes-models, offline)", () => {
  const objects = baseObjects();

  it("each object of the base validates: Jobs, ConfigMaps (plan, run, dashboard), Secret, PVC", () => {
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ConfigMap/dcpbench-grafana-dashboard",
      "ConfigMap/dcpbench-plan",
      "ConfigMap/dcpbench-run",
      "Job/dcpbench-merge",
      "Job/dcpbench-shards",
      "PersistentVolumeClaim/dcpbench-results",
      "Secret/dcpbench-pgpass",
    ]);
    for (const o of objects) validateModel(o);
  });

  it("no object has a field the API does not know (what strict field validation would refuse)", () => {
    assert.deepEqual(unknownFields(objects), []);
  });

  it("both checks catch a mistake: a number as a string, a misspelt field", () => {
    const job = structuredClone(objects.find((o) => o.metadata.name === "dcpbench-shards"));
    job.spec.completions = "3";
    assert.throws(() => new Job(job).validate(), /completions/);
    const typo = structuredClone(objects.find((o) => o.metadata.name === "dcpbench-shards"));
    typo.spec.template.spec.topologySpreadConstraint = typo.spec.template.spec.topologySpreadConstraints;
    assert.match(unknownFields([typo]).join("\n"), /'"?topologySpreadConstraint"?' does not exist/);
  });
});

describe('deploy/kubernetes: Pod Security "restricted", requests and limits, spread, clean-up', () => {
  const objects = baseObjects();
  const pods = podsOf(objects);
  const ALLOWED_VOLUMES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
  ];

  it("every pod: non-root, RuntimeDefault seccomp, no service-account token, no host namespaces, allowed volumes", () => {
    assert.equal(pods.length, 2);
    for (const [name, pod] of pods) {
      assert.equal(pod.automountServiceAccountToken, false, name);
      assert.equal(pod.securityContext.runAsNonRoot, true, name);
      assert.ok(pod.securityContext.runAsUser > 0, name);
      assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault", name);
      for (const host of ["hostNetwork", "hostPID", "hostIPC"]) assert.notEqual(pod[host], true, name);
      for (const v of pod.volumes) {
        const kinds = Object.keys(v).filter((k) => k !== "name");
        assert.ok(
          kinds.every((k) => ALLOWED_VOLUMES.includes(k)),
          `${name} volume ${v.name}: ${kinds}`,
        );
      }
    }
  });

  it("every container: no privilege escalation, ALL capabilities dropped, read-only root, requests and limits", () => {
    for (const [name, pod] of pods)
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        const at = `${name}/${c.name}`;
        const sc = c.securityContext;
        assert.equal(sc.allowPrivilegeEscalation, false, at);
        assert.deepEqual(sc.capabilities.drop, ["ALL"], at);
        assert.equal(sc.capabilities.add, undefined, at);
        assert.equal(sc.readOnlyRootFilesystem, true, at);
        assert.equal(sc.runAsNonRoot, true, at);
        assert.equal(sc.privileged, undefined, at);
        assert.equal(sc.seccompProfile.type, "RuntimeDefault", at);
        assert.ok(!(c.ports ?? []).some((p: Obj) => p.hostPort), at);
        for (const r of ["cpu", "memory"]) {
          const { requests, limits } = c.resources;
          assert.ok(requests[r] && limits[r], `${at} ${r} request and limit`);
          assert.ok(quantity(limits[r]) >= quantity(requests[r]), `${at} ${r} limit >= request`);
        }
        // With the root read-only, whatever is written outside /results goes to an emptyDir: HOME and /tmp.
        const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
        for (const path of [env.HOME, "/tmp"]) {
          const mount = c.volumeMounts.find((m: Obj) => m.mountPath === path);
          assert.ok(mount, `${at}: ${path} is mounted`);
          assert.ok(pod.volumes.find((v: Obj) => v.name === mount.name).emptyDir, `${at}: ${path}`);
        }
      }
  });

  it("the pgpass copy lands in an in-memory emptyDir; the merge has room for a large run", () => {
    const [, shards] = pods.find(([n]) => n === "dcpbench-shards")!;
    const home = shards.containers[0].volumeMounts.find((m: Obj) => m.mountPath === "/home/node");
    assert.equal(shards.volumes.find((v: Obj) => v.name === home.name).emptyDir.medium, "Memory");
    const [, merge] = pods.find(([n]) => n === "dcpbench-merge")!;
    const c = merge.containers[0];
    // A 200 MB merge peaked at 0.9 GB: at least twice that, and V8's heap limit below the container's.
    const limit = quantity(c.resources.limits.memory);
    assert.ok(limit >= 2 * 0.9e9, `merge memory limit ${c.resources.limits.memory}`);
    const heap = /--max-old-space-size=(\d+)/.exec(c.env.find((e: Obj) => e.name === "NODE_OPTIONS").value);
    assert.ok(heap && Number(heap[1]) * 2 ** 20 < limit && Number(heap[1]) * 2 ** 20 >= 0.9e9);
  });

  it("shards spread one per node, both Jobs clean up after a day, and Kubernetes 1.29+ is stated", () => {
    const job = objects.find((o) => o.metadata.name === "dcpbench-shards");
    const [spread] = job.spec.template.spec.topologySpreadConstraints;
    assert.equal(spread.topologyKey, "kubernetes.io/hostname");
    assert.equal(spread.maxSkew, 1);
    assert.equal(spread.whenUnsatisfiable, "DoNotSchedule");
    assert.deepEqual(spread.matchLabelKeys, ["batch.kubernetes.io/controller-uid"], "this run's pods only");
    for (const [k, v] of Object.entries(spread.labelSelector.matchLabels))
      assert.equal(job.spec.template.metadata.labels[k], v, k);
    for (const j of objects.filter((o) => o.kind === "Job"))
      assert.ok(j.spec.ttlSecondsAfterFinished > 0, j.metadata.name);
    for (const f of ["job.yaml", "merge-job.yaml", "kustomization.yaml"])
      assert.match(readFileSync(join(DEPLOY, f), "utf8"), /Kubernetes 1\.29 or later/, f);
    assert.match(readFileSync(join(ROOT, "docs/kubernetes.md"), "utf8"), /Kubernetes 1\.29/);
  });
});

describe("deploy/kubernetes: the kustomize base (shard count once, START_AT and RUN_ID per run)", () => {
  const kustomization = load("kustomization.yaml");

  it("the base's resources exist and every name the Jobs refer to is an object of the base", () => {
    const objects = baseObjects();
    const has = (kind: string, name: string) =>
      objects.some((o) => o.kind === kind && o.metadata.name === name);
    for (const [name, pod] of podsOf(objects)) {
      for (const c of pod.containers)
        for (const e of c.envFrom) assert.ok(has("ConfigMap", e.configMapRef.name), `${name}: ${e}`);
      for (const v of pod.volumes) {
        if (v.secret) assert.ok(has("Secret", v.secret.secretName), name);
        if (v.persistentVolumeClaim)
          assert.ok(has("PersistentVolumeClaim", v.persistentVolumeClaim.claimName), name);
      }
    }
  });

  it("SHARDS, written once, reaches the Job's completions, parallelism and SHARDS (replacements, applied here)", () => {
    // kustomize does not run in this test: its replacements are applied by their documented semantics.
    const literal = (o: Obj[]) => o.find((x) => x.metadata.name === "dcpbench-run").data.SHARDS;
    const shardsJob = (o: Obj[]) => o.find((x) => x.metadata.name === "dcpbench-shards");
    const objects = baseObjects();
    assert.equal(literal(objects), "3");
    assert.equal(
      readFileSync(join(DEPLOY, "kustomization.yaml"), "utf8").match(/SHARDS=/g)?.length,
      1,
      "written once",
    );
    // Another count in the one place: all three follow, each keeping its type.
    objects.find((x) => x.metadata.name === "dcpbench-run").data.SHARDS = "7";
    applyReplacements(objects, kustomization.replacements);
    const job = shardsJob(objects);
    assert.equal(job.spec.completions, 7);
    assert.equal(job.spec.parallelism, 7);
    const env = job.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "SHARDS");
    assert.equal(env.value, "7");
    validateModel(job);
    // The replacements name exactly these three fields: nothing else carries a shard count.
    assert.deepEqual(kustomization.replacements.length, 1);
    assert.deepEqual(kustomization.replacements[0].targets[0].fieldPaths.length, 3);
  });

  it("new-run.sh writes a run's overlay: START_AT LEAD seconds ahead, a new RUN_ID, the base by relative path", () => {
    const deploy = deployCopy();
    const script = join(deploy, "kubernetes/new-run.sh");
    const before = Date.now();
    const r = newRun(script, ["-l", "120"]);
    assert.equal(r.status, 0, r.stderr);
    const dir = r.stdout.trim();
    assert.equal(dirname(dir), resolve(deploy, "runs"));
    const overlay = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
    assert.equal(resolve(dir, overlay.resources[0]), resolve(deploy, "kubernetes"));
    assert.ok(!overlay.resources[0].startsWith("/"), "kustomize refuses an absolute path");
    const [gen] = overlay.configMapGenerator;
    assert.equal(gen.name, "dcpbench-run");
    assert.equal(gen.behavior, "merge");
    const values = Object.fromEntries(gen.literals.map((l: string) => l.split("=")));
    assert.deepEqual(Object.keys(values).sort(), ["RUN_ID", "START_AT"], "no SHARDS: the base's count rules");
    assert.match(values.START_AT, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ahead = parseStartAt(values.START_AT) - before;
    assert.ok(ahead > 115_000 && ahead < 125_000, `START_AT ${ahead} ms ahead`);
    assert.match(values.RUN_ID, /^run-\d{8}-\d{6}$/);
    assert.equal(basename(dir), values.RUN_ID);
    // A RUN_ID is used once, is one path segment, and an overlay cannot sit inside its base.
    assert.equal(newRun(script, ["-r", values.RUN_ID]).status, 1);
    assert.equal(newRun(script, ["-r", "../x"]).status, 2);
    assert.equal(newRun(script, ["-o", join(deploy, "kubernetes/run")]).status, 2);
    const elsewhere = newRun(script, ["-r", "run-b", "-o", join(tmp("dcpbench-k8s-run-"), "a/b")]);
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    const far = parse(readFileSync(join(elsewhere.stdout.trim(), "kustomization.yaml"), "utf8"));
    assert.equal(resolve(elsewhere.stdout.trim(), far.resources[0]), resolve(deploy, "kubernetes"));
  });

  it("kubectl's kustomize renders a run: SHARDS everywhere, the run's values, every object valid", (t) => {
    if (!kubectl) return t.skip("kubectl is not installed: kustomize did not run");
    const deploy = deployCopy();
    writeFileSync(join(deploy, "kubernetes/pgpass"), "db.example:5432:app:app:s3cret\n");
    const kfile = join(deploy, "kubernetes/kustomization.yaml");
    writeFileSync(kfile, readFileSync(kfile, "utf8").replace("SHARDS=3", "SHARDS=7"));
    const r = newRun(join(deploy, "kubernetes/new-run.sh"), ["-r", "run-test"]);
    assert.equal(r.status, 0, r.stderr);
    const rendered = parseAllDocuments(
      execFileSync("kubectl", ["kustomize", r.stdout.trim()], { encoding: "utf8" }),
    ).map((d) => d.toJSON());
    const shards = rendered.find((o) => o.metadata.name === "dcpbench-shards");
    assert.equal(shards.spec.completions, 7);
    assert.equal(shards.spec.parallelism, 7);
    const env = shards.spec.template.spec.containers[0].env.find((e: Obj) => e.name === "SHARDS");
    assert.equal(env.value, "7");
    const run = rendered.find((o) => o.metadata.name.startsWith("dcpbench-run-"));
    assert.equal(run.data.RUN_ID, "run-test");
    assert.equal(run.data.SHARDS, "7");
    assert.doesNotThrow(() => parseStartAt(run.data.START_AT));
    for (const [name, pod] of podsOf(rendered))
      assert.equal(pod.containers[0].envFrom[1].configMapRef.name, run.metadata.name, name);
    const secret = rendered.find((o) => o.kind === "Secret");
    assert.equal(Buffer.from(secret.data.pgpass, "base64").toString(), "db.example:5432:app:app:s3cret\n");
    const dashboard = rendered.find((o) => o.metadata.name === "dcpbench-grafana-dashboard");
    assert.equal(dashboard.metadata.labels.grafana_dashboard, "1");
    assert.equal(
      dashboard.data["grafana-dashboard.json"],
      readFileSync(join(DEPLOY, "grafana-dashboard.json"), "utf8"),
    );
    assert.equal(rendered.length, 7);
    for (const o of rendered) validateModel(o);
    assert.deepEqual(unknownFields(rendered), []);
    const monitor = parse(
      execFileSync("kubectl", ["kustomize", join(deploy, "kubernetes/prometheus-operator")], {
        encoding: "utf8",
      }),
    );
    assert.equal(monitor.kind, "PodMonitor");
  });

  it("kubectl's kustomize refuses the base without a pgpass file: no placeholder Secret is ever applied", (t) => {
    if (!kubectl) return t.skip("kubectl is not installed: kustomize did not run");
    const deploy = deployCopy();
    const r = spawnSync("kubectl", ["kustomize", join(deploy, "kubernetes")], { encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /pgpass/);
  });
});

/** Docker's .dockerignore matching: the last pattern that matches a path or a directory above it decides. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const glob = (p: string) =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|\\]/g, "\\$&")
        .replace(/\*\*/g, "\0")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replace(/\0/g, ".*")}$`,
    );
  const parts = path.split("/");
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const re = glob((negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, ""));
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join("/")))) ignored = !negated;
  }
  return ignored;
}

describe("deploy/kubernetes/Dockerfile and .dockerignore: the image", () => {
  const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const args = Object.fromEntries(
    [...dockerfile.matchAll(/^ARG (\w+)=(.*)$/gm)].map(([, k, v]) => [k, v.replace(/^"|"$/g, "")]),
  );
  const base = (stage: string) => stage.split(/\s/)[0].replace(/^\$\{(\w+)\}$/, (_, k) => args[k]);
  const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const copied = (stage: string) =>
    [...stage.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap(([, list]) =>
      list.trim().split(/\s+/).slice(0, -1),
    );

  it("Node 20 slim, production dependencies only, not root", () => {
    assert.match(base(stages.at(-1)!), /^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    assert.match(stages.at(-1)!, /npm ci --omit=dev/);
    assert.match(stages.at(-1)!, /^USER node$/m);
    assert.match(stages.at(-1)!, /^ENTRYPOINT \["dcpbench"\]$/m);
  });

  it("a pinned base: one Node release on one Debian release in every stage, never a floating tag", () => {
    assert.equal(stages.length, 2);
    for (const s of stages) assert.equal(base(s), args.NODE_IMAGE);
    assert.match(args.NODE_IMAGE, /^node:20\.\d+\.\d+-bookworm-slim/);
    assert.doesNotMatch(dockerfile, /^FROM \S+:(latest|20|20-slim|lts\S*)\b(?!\.)/m);
  });

  it("OCI labels: title, description, version (the package's), revision, created, source, licenses, base", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const last = stages.at(-1)!;
    for (const k of [
      "title",
      "description",
      "version",
      "revision",
      "created",
      "source",
      "licenses",
      "base.name",
    ])
      assert.match(last, new RegExp(`org\\.opencontainers\\.image\\.${k.replace(".", "\\.")}=`), k);
    assert.equal(args.VERSION, pkg.version);
    assert.match(last, new RegExp(`org\\.opencontainers\\.image\\.licenses="${pkg.license}"`));
  });

  it("the build stage needs neither test/ nor bench/; the runtime stage takes only the built dist from it", () => {
    const [build, runtime] = stages;
    assert.match(build, /npm run prepack/);
    for (const src of copied(build)) assert.ok(!/^(test|bench)\b/.test(src), src);
    assert.deepEqual(
      [...runtime.matchAll(/^COPY --from=build (\S+)/gm)].map(([, from]) => from),
      ["/src/dist/src", "/src/dist/workloads"],
    );
    assert.deepEqual(copied(runtime), ["package.json", "package-lock.json", "schemas"]);
  });

  it(".dockerignore leaves the local stack's pgpass and everything but the build's inputs out of the context", () => {
    for (const path of [
      ".dcpbench/stack/pgpass",
      ".dcpbench",
      "deploy/kubernetes/pgpass",
      "node_modules/pg/package.json",
      "dist/src/cli.js",
      "results/a.json",
      "test/deploy.test.ts",
      "bench/harness.ts",
      ".git/HEAD",
      ".ci/run",
      "README.md",
    ])
      assert.ok(dockerIgnored(ignore, path), `${path} is not sent to the builder`);
    for (const stage of stages)
      for (const src of copied(stage)) {
        const isDir = statSync(join(ROOT, src)).isDirectory();
        const inside = isDir ? `${src}/${readdirSync(join(ROOT, src))[0]}` : src;
        assert.ok(!dockerIgnored(ignore, inside), `${inside} reaches the build, as COPY ${src} needs`);
      }
  });

  it("the build stage compiles from its build context alone (the COPYs, less .dockerignore), as the image would", () => {
    const [build] = stages;
    const ctx = tmp("dcpbench-image-");
    for (const src of copied(build))
      cpSync(join(ROOT, src), join(ctx, src), {
        recursive: true,
        filter: (f) => !dockerIgnored(ignore, f.slice(ROOT.length)),
      });
    // npm ci installs the same lock file's packages: the repository's node_modules stand in for it.
    symlinkSync(join(ROOT, "node_modules"), join(ctx, "node_modules"));
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const prepack = JSON.parse(readFileSync(join(ctx, "package.json"), "utf8")).scripts.prepack;
    assert.equal(prepack, "tsc -p tsconfig.build.json");
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ctx, stdio: "pipe" });
    assert.ok(existsSync(join(ctx, "dist/src/cli.js")));
    assert.ok(existsSync(join(ctx, "dist/workloads")));
    assert.deepEqual(readdirSync(join(ctx, "dist")).sort(), ["src", "workloads"]);
  });
});
