/** Errors that carry their own exit code; the CLI prints their message as one line. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad usage or input (exit 2): the user can fix it by changing what they typed. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The run itself failed (exit 1): no client could connect, a worker crashed, too many errors. */
export class RunFailure extends CliError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** A threshold or regression gate was crossed (exit 3). */
export class ThresholdCrossed extends CliError {
  constructor(message: string) {
    super(message, 3);
  }
}
