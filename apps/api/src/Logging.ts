/**
 * Structured logs: JSON lines (one object per line, with the request id, actor and other annotations) for
 * production and log shippers; a pretty console logger when stdout is a terminal. `LOG_LEVEL` (All, Trace,
 * Debug, Info, Warn, Error, Fatal, None; default Info) sets the minimum level, `LOG_FORMAT` (json | pretty)
 * overrides the choice.
 */
import { Config, Effect, Layer, Logger, References } from "effect"

export const layer = Layer.unwrap(Effect.gen(function*() {
  const level = yield* Config.LogLevel("LOG_LEVEL").pipe(Config.withDefault("Info" as const))
  const format = yield* Config.Literals(["json", "pretty"], "LOG_FORMAT").pipe(
    Config.withDefault(process.stdout.isTTY ? "pretty" as const : "json" as const)
  )
  return Layer.mergeAll(
    Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()]),
    Layer.succeed(References.MinimumLogLevel, level)
  )
}))
