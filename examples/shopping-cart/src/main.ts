/**
 * Entry point of the shop's command line (`pnpm shop <command>`). A rejected command or a failure prints
 * one line on stderr and exits 1 (2 for a command line that does not parse); logs go to stderr, so stdout carries only the command's output.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Logger } from "effect"
import { Command } from "effect/cli"
import { shop } from "./Cli.ts"

shop.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.catch((error) =>
    Effect.gen(function*() {
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
      if (tag === "ShowHelp") {
        // Help was asked for (0), or shown because the command line did not parse (2).
        const errors = typeof error === "object" && error !== null && "errors" in error && Array.isArray(error.errors) ? error.errors : []
        process.exitCode = errors.length > 0 ? 2 : 0
        return
      }
      // A domain rejection carries its facts as fields (and no message): print those.
      const detail = error instanceof Error && error.message !== "" ? error.message : JSON.stringify(error)
      yield* Console.error(`error: ${tag}: ${detail}`)
      process.exitCode = 1
    })
  ),
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
