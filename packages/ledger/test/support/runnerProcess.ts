/**
 * A projection runner in its own process, for the crash and fail-over tests: `node runnerProcess.ts`
 * (Node 22 strips the types). It runs the ledger runtime with the read models over `PgClient.layer` and
 * prints "ready" once the runtime is up, then runs until it is killed.
 *
 * Environment: RUNNER_DATABASE_URL (required), VERITY_MASTER_KEYS (the test's key, read by the runtime
 * from the environment like in production), RUNNER_OWNER (its name in status), RUNNER_BATCH_SIZE.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import * as ReadModels from "../../src/ReadModels.ts"

const url = process.env["RUNNER_DATABASE_URL"]
if (url === undefined || url === "") {
  process.stderr.write("RUNNER_DATABASE_URL is required\n")
  process.exit(2)
}
const owner = process.env["RUNNER_OWNER"] ?? `runner:${process.pid}`
const batchSize = Number(process.env["RUNNER_BATCH_SIZE"] ?? "500")

const runtime = LedgerRuntime.layerWithoutDatabase({
  projections: ReadModels.all,
  projectionOptions: { owner, batchSize, rebuildBatchSize: batchSize, pollInterval: "50 millis", discoveryInterval: "200 millis" }
}).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 8 })))

Effect.runFork(
  Effect.gen(function*() {
    yield* Layer.build(runtime)
    process.stdout.write("ready\n")
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.tapCause((cause) => Effect.sync(() => process.stderr.write(`runner failed: ${String(cause)}\n`))),
    Effect.ensuring(Effect.sync(() => process.exit(1)))
  )
)
