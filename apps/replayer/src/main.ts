/**
 * Entry point: runs the command line and turns outcomes into exit codes (0 ok, 1 check failed or
 * operation failed, 2 usage error, 130 interrupted).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Logger } from "effect"
import { Command } from "effect/cli"
import { replayer } from "./Cli.ts"
import { exitCode, isReplayerFailure } from "./Failures.ts"

const USAGE = new Set([
  "UnrecognizedOption",
  "DuplicateOption",
  "MissingOption",
  "MissingArgument",
  "UnexpectedArgument",
  "InvalidValue",
  "UnknownSubcommand",
  "ValidationError"
])

replayer.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.catch((error) =>
    Effect.gen(function*() {
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
      if (isReplayerFailure(error)) {
        yield* Console.error(`error: ${error.message}`)
        process.exitCode = exitCode(error)
      } else if (tag === "ShowHelp") {
        // Help was asked for (0), or shown because the command line did not parse (2).
        const errors = (error as { readonly errors?: ReadonlyArray<unknown> }).errors ?? []
        process.exitCode = errors.length > 0 ? 2 : 0
      } else if (USAGE.has(tag)) {
        process.exitCode = 2 // the CLI module has already printed what was wrong
      } else {
        // Configuration, database or migration failures while starting.
        yield* Console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
        process.exitCode = 1
      }
    })
  ),
  // stdout carries the command's output (tables, JSON); logs go to stderr.
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
