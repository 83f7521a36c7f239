/**
 * What the replayer runs on: the ledger runtime (configured or embedded database, protected event store,
 * projection runtime) with the ledger's projections registered but NOT running, except under `follow`.
 * A rebuild runs its generation in the replayer's own fiber, at bulk batch sizes. `provide` runs a command
 * on it and ends the command with `OperationFailed` (exit 1) if the database is lost for good meanwhile.
 */
import { LedgerReadModels, LedgerRuntime, LedgerTransferProcess } from "@verity/ledger"
import { DatabaseHealth } from "@verity/postgres"
import { Effect, type Layer } from "effect"
import { OperationFailed } from "./Failures.ts"

/** Everything `follow` runs: the read models and the transfer process manager. */
export const allProjections = [...LedgerReadModels.all, LedgerTransferProcess.projection]

/** The projections the replayer may rebuild or verify: read models only (the process manager issues commands). */
export const readModels = LedgerReadModels.all

export const layer = (options: { readonly run: boolean; readonly batchSize?: number }) =>
  LedgerRuntime.layer({
    projections: allProjections,
    runProjections: options.run,
    maxConnections: 8,
    projectionOptions: { rebuildBatchSize: options.batchSize ?? 10_000 }
  })

export type Runtime = Layer.Success<ReturnType<typeof layer>>

/** Runs `effect` on the runtime; a database that cannot be recovered ends it with `OperationFailed`. */
export const provide = (options: Parameters<typeof layer>[0]) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const health = yield* DatabaseHealth
    const lost = health.unrecoverable.pipe(
      Effect.mapError((error) => new OperationFailed({ message: `database lost for good: ${error.message}` }))
    )
    return yield* Effect.raceFirst(effect, lost)
  }).pipe(Effect.provide(layer(options)))
