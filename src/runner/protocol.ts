import type { OpSnapshot, Snapshot } from "../metrics/snapshot.js";
import type { RunPlan, Share } from "../plan.js";
import type { ErrorSample } from "../schema/measures.js";
import type { ServerInfo } from "../schema/result.js";
import type { IdleReport } from "./idle-conns.js";

/** Runner → worker. The plan travels here, never on argv. */
export type ToWorker =
  | { type: "init"; plan: RunPlan; server: ServerInfo; assignment: Share }
  /** t0: the common start, epoch ms. */
  | { type: "start"; t0: number }
  /** The measured window opens fromMs after t0 (a warm-up that ends at steady state): sent before that time. */
  | { type: "window"; fromMs: number }
  | { type: "stop" }
  /** After "done": the server side has been read; the clients may disconnect now. */
  | { type: "close" };

/** Worker → runner. */
export type FromWorker =
  | { type: "ready"; connected: number; failed: number; connect: OpSnapshot; samples: ErrorSample[] }
  | { type: "snapshot"; snap: Snapshot }
  /** deadline: --duration reached; iterations: --iterations spent; stopped: the runner said stop. */
  | { type: "done"; reason: "deadline" | "iterations" | "stopped"; idle?: IdleReport }
  | { type: "fatal"; message: string; exitCode: number };
