// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

/** The one-way imports of docs/architecture.md, as lint errors. */
const layer = (files, patterns, message) => ({
  files,
  rules: { "no-restricted-imports": ["error", { patterns: [{ group: patterns, message }] }] },
});

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".dcpbench/**", "results/**"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts", "workloads/**/*.ts", "bench/**/*.ts"],
    rules: {
      "max-lines-per-function": [
        "error",
        { max: 120, skipBlankLines: true, skipComments: true, IIFEs: true },
      ],
    },
  },
  layer(
    ["src/schema/**/*.ts"],
    ["../*", "../**"],
    "the result-file schema is the contract every layer imports: it imports nothing of ours outside src/schema/",
  ),
  layer(
    ["src/results/**/*.ts"],
    [
      "**/runner/*",
      "**/observe/*",
      "**/faults/*",
      "**/commands/*",
      "**/run/*",
      "**/stack/*",
      "**/sweep/*",
      "**/outputs/*",
    ],
    "results/ reads result files: it may import src/schema, metrics/, db/ and options/, not the parts that produce a run",
  ),
  layer(
    ["src/plan.ts", "src/options/**/*.ts"],
    [
      "**/results/**",
      "**/runner/*",
      "**/run/*",
      "**/commands/*",
      "**/observe/*",
      "**/faults/*",
      "**/stack/*",
    ],
    "the plan and its option parsers sit below results/ and runner/: import src/schema, db/ or options/ instead",
  ),
  layer(
    ["src/db/**/*.ts", "src/metrics/**/*.ts"],
    [
      "**/results/**",
      "**/runner/*",
      "**/run/*",
      "**/commands/*",
      "**/observe/*",
      "**/faults/*",
      "**/stack/*",
    ],
    "db/ and metrics/ are the bottom layers: they import only each other's leaves and src/schema",
  ),
  layer(
    ["src/run/**/*.ts"],
    ["**/commands/*", "**/sweep/*"],
    "run/ is driven by commands/ and sweep/ (and later shard), never the other way round",
  ),
  layer(
    ["src/outputs/**/*.ts"],
    ["**/commands/*", "**/run/*", "**/sweep/*", "**/runner/*", "**/observe/*", "**/faults/*", "**/stack/*"],
    "outputs/ take a run's intervals and result (the progress line, Prometheus, the result file): run/ feeds them",
  ),
  layer(
    ["src/sweep/**/*.ts"],
    ["**/commands/*"],
    "sweep/ makes many runs through run/; commands/ drive it, never the other way round",
  ),
  layer(
    ["src/runner/**/*.ts", "src/observe/**/*.ts", "src/faults/**/*.ts", "src/stack/**/*.ts"],
    ["**/commands/*", "**/run/*", "**/results/**", "**/sweep/*"],
    "runner/, observe/, faults/ and stack/ are driven by run/, sweep/ and commands/, never the other way round",
  ),
  layer(
    ["src/workload/**/*.ts"],
    [
      "**/commands/*",
      "**/run/*",
      "**/results/**",
      "**/sweep/*",
      "**/runner/*",
      "**/observe/*",
      "**/faults/*",
      "**/stack/*",
    ],
    "workload/ loads and initialises workloads for runner/ and commands/: it imports the API, db/ and src/schema only",
  ),
  {
    files: ["workloads/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(?!\\.\\./src/api\\.js$)",
              message: "a workload imports only ../src/api.js (the workload API)",
            },
          ],
        },
      ],
    },
  },
);
