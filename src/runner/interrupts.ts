/** Where stop requests come from: the process's SIGINT/SIGTERM for a command, anything else for a caller. */
export interface Interrupts {
  /** Calls `onSignal` for each request until the returned function is called. */
  subscribe(onSignal: (signal: NodeJS.Signals) => void): () => void;
}

/** SIGINT and SIGTERM of this process, listened to only while subscribed. */
export const processInterrupts: Interrupts = {
  subscribe(onSignal) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    return () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  },
};

/** No stop requests: the run ends on its own stop condition. */
export const noInterrupts: Interrupts = { subscribe: () => () => {} };
