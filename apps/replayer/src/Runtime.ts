/**
 * What the replayer runs on: the ledger runtime (configured or embedded database, protected event store,
 * projection runtime) with the ledger's projections registered but NOT running, except under `follow`.
 * A rebuild runs its generation in the replayer's own fiber, at bulk batch sizes.
 */
import { Layer } from "effect"
import { LedgerReadModels, LedgerRuntime, LedgerTransferProcess } from "@verity/projections"

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
