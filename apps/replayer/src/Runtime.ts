/**
 * What the replayer runs on: the ledger runtime (configured or embedded database, protected event store,
 * projection runtime) with the ledger's projections registered but NOT running, except under `follow`.
 * With `NATS_URL` set, the relay (projection `relay`, the ledger's published contracts) is among them;
 * `replayer relay` runs it and the ledger's inboxes (`fraud_watch`, consuming what the relay published),
 * or one of the two (`only`).
 * A rebuild runs its generation in the replayer's own fiber, at bulk batch sizes. `provide` runs a command
 * on it and ends the command with `OperationFailed` (exit 1) if the database is lost for good meanwhile.
 */
import { LedgerContracts, LedgerReadModels, LedgerRuntime, LedgerTransferProcess } from "@verity/ledger"
import { DatabaseHealth } from "@verity/postgres"
import { Effect, type Layer } from "effect"
import { OperationFailed } from "./Failures.ts"

/** Everything `follow` runs: the read models and the transfer process manager. */
export const allProjections = [...LedgerReadModels.all, LedgerTransferProcess.projection]

/** The projections the replayer may rebuild or verify: read models only (the process manager issues commands). */
export const readModels = LedgerReadModels.all

export interface RuntimeOptions {
  readonly run: boolean
  readonly batchSize?: number
  /**
   * For `replayer relay`: no read model, no process manager; `relay` runs the relay, `inbox` the inboxes,
   * `relay+inbox` both.
   */
  readonly only?: "relay" | "inbox" | "relay+inbox"
}

export const layer = (options: RuntimeOptions) =>
  LedgerRuntime.layer({
    projections: options.only === undefined ? allProjections : [],
    contracts: LedgerContracts.all,
    runProjections: options.run && options.only !== "inbox",
    runInboxes: options.run && (options.only === "inbox" || options.only === "relay+inbox"),
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
