declare module "pgpass" {
  interface ConnInfo {
    host?: string;
    port?: string | number;
    database?: string;
    user?: string;
  }
  function pgPass(info: ConnInfo, cb: (password: string | undefined) => void): void;
  export default pgPass;
}

declare module "pg/lib/utils.js" {
  /** pg's own conversion of a JS value to its text form (arrays → '{…}', objects → JSON, Date → ISO). */
  export function prepareValue(value: unknown): string | Buffer | null;
}
