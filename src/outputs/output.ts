import type { Aggregator } from "../metrics/aggregate.js";
import type { TimelineEntry } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";

/**
 * Where a run's figures go as it runs and when it ends: the progress line, the Prometheus endpoint, the result
 * file. A new output is a class of this shape and a line in executeRun's list.
 */
export interface Output {
  /** Each merged interval, as the runner produces it (`agg`: the run's aggregate so far). */
  interval?(entry: TimelineEntry, agg: Aggregator): void;
  /** The run's result, once, after every service has stopped. */
  end?(result: ResultFile): void;
  /** Releases what it holds (a listening port). */
  close?(): void;
}
