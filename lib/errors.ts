/**
 * Every problem of a stack's config at once, each naming the key, the fault and a fix. Thrown by
 * the config's checks and by the program-time check of the stack's identity on the server.
 */
export class ConfigError extends Error {
  constructor(
    public readonly stack: string,
    public readonly problems: string[],
  ) {
    super(
      `Stack '${stack}' has ${problems.length} config problem${problems.length === 1 ? "" : "s"}; nothing was changed on the server:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}
