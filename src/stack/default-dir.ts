import { DEFAULT_STACK_DIR } from "./layout.js";

/** The stack directory used when none is given: $DCPBENCH_STACK_DIR, else .dcpbench/stack under the cwd. */
export function defaultStackDir(): string {
  return process.env.DCPBENCH_STACK_DIR || DEFAULT_STACK_DIR;
}
