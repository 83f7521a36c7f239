/**
 * `./scripts/chaos --duration 60s`: one chaos run from the command line (see Chaos.ts), its progress on
 * stderr, the report on stdout. Exit 0 when every check passed, 1 when one failed, 2 on a usage error.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Logger } from "effect"
import { Command, Flag } from "effect/cli"
import * as Chaos from "./Chaos.ts"
import type * as Faults from "./Faults.ts"
import * as Report from "./Report.ts"

/** "60s", "2m", "1500ms" or a bare number of seconds. */
const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (match === null) return undefined
  const value = Number(match[1])
  return Math.round(match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1_000)
}

const started = Date.now()
const progress = (line: string) => process.stderr.write(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`)

const chaos = Command.make(
  "chaos",
  {
    duration: Flag.String("duration").pipe(Flag.withDescription("How long the load runs (60s, 2m; default 60s)"), Flag.withDefault("60s")),
    apis: Flag.Int("apis").pipe(Flag.withDescription("API processes, VERITY_PROJECTIONS=off (default 3)"), Flag.withDefault(3)),
    workers: Flag.Int("workers").pipe(Flag.withDescription("Projection workers, replayer follow (default 2)"), Flag.withDefault(2)),
    accounts: Flag.Int("accounts").pipe(Flag.withDescription("Accounts the load works on (default 12)"), Flag.withDefault(12)),
    clients: Flag.Int("clients").pipe(Flag.withDescription("Concurrent clients (default 8)"), Flag.withDefault(8)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the load's and the faults' choices (default: random)"), Flag.optional),
    databaseDown: Flag.String("database-down").pipe(
      Flag.withDescription("How long a database restart keeps it down (default 2s)"),
      Flag.withDefault("2s")
    ),
    faults: Flag.String("faults").pipe(
      Flag.withDescription("Kinds of faults, comma-separated: api, worker, database, connections (default: all)"),
      Flag.withDefault("api,worker,database,connections")
    ),
    keep: Flag.Boolean("keep").pipe(Flag.withDescription("Keep the run's folder (database, logs) even when it passed"), Flag.withDefault(false))
  },
  (flags) =>
    Effect.gen(function*() {
      const durationMs = parseDuration(flags.duration)
      const databaseDownMs = parseDuration(flags.databaseDown)
      if (durationMs === undefined || durationMs < 10_000 || databaseDownMs === undefined) {
        yield* Console.error("error: --duration and --database-down take 60s, 2m or 1500ms; the duration is at least 10s")
        process.exitCode = 2
        return
      }
      if (flags.apis < 1 || flags.workers < 1 || flags.accounts < 2 || flags.clients < 1) {
        yield* Console.error("error: at least 1 API, 1 worker, 2 accounts and 1 client")
        process.exitCode = 2
        return
      }
      const names: Record<string, Faults.FaultKind> = {
        api: "KillApi",
        worker: "KillWorker",
        database: "RestartDatabase",
        connections: "TerminateConnections"
      }
      const requested = flags.faults.split(",").map((name) => name.trim()).filter((name) => name !== "")
      const faultKinds = requested.flatMap((name) => (name in names ? [names[name]!] : []))
      if (faultKinds.length !== requested.length) {
        yield* Console.error(`error: --faults takes api, worker, database, connections (got ${flags.faults})`)
        process.exitCode = 2
        return
      }
      const seed = flags.seed._tag === "Some" ? flags.seed.value : Math.floor(Math.random() * 2 ** 31)
      const report = yield* Chaos.run({
        durationMs,
        apis: flags.apis,
        workers: flags.workers,
        accounts: flags.accounts,
        clients: flags.clients,
        seed,
        databaseDownMs,
        faultKinds,
        keep: flags.keep,
        progress
      })
      yield* Console.log(Report.render(report))
      process.exitCode = report.passed ? 0 : 1
    })
).pipe(
  Command.withDescription(
    "Run N APIs and M projection workers on a database of their own under load, kill them and the database, then check the ledger"
  )
)

chaos.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.catch((error) =>
    Effect.gen(function*() {
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
      if (tag === "ChaosSetupFailed" || tag === "ProcessNotReady") {
        yield* Console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
        process.exitCode = 1
      } else if (tag === "ShowHelp") {
        // Help was asked for (0), or shown because the command line did not parse (2).
        const errors: unknown = Reflect.get(error, "errors")
        process.exitCode = Array.isArray(errors) && errors.length > 0 ? 2 : 0
      } else {
        process.exitCode = 2 // a usage error the CLI module has already printed
      }
    })
  ),
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
