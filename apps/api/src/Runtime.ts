/**
 * The ledger runtime this API runs on: the event store (with crypto-shredding) and the projection runtime
 * with the ledger's read models and the transfer process manager, on the configured database
 * (`DATABASE_URL`) or an embedded PostgreSQL in `VERITY_DATA_DIR` (default `.data/postgres`). The
 * projections run in a worker thread by default (see RunnerThread.ts); the request thread then keeps the
 * `Projections` service for status, controls and read-your-writes, which work across threads and
 * processes through the database.
 */
import { PgClient } from "@effect/sql-pg"
import { LedgerReadModels, LedgerRuntime, LedgerTransferProcess } from "@verity/ledger"
import { Database, DatabaseHealth } from "@verity/postgres"
import { Effect, Layer, Redacted } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import * as RunnerThread from "./RunnerThread.ts"

/** Every projection the API serves and runs. */
export const projections = () => [...LedgerReadModels.all, LedgerTransferProcess.projection]

/** A pool on `url` whose sessions end transactions left idle (they would hold every subscriber back). */
export const pgClient = (url: string, maxConnections: number, applicationName: string) =>
  PgClient.layer({
    url: Redacted.make(url),
    maxConnections,
    applicationName,
    startupParameters: {
      idle_in_transaction_session_timeout: "60000",
      client_connection_check_interval: Database.CLIENT_CHECK_MILLIS
    }
  })

/** The runtime on the configured or embedded database, with the projections where configured. */
export const layer = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ApiConfig
  const { health, info, url } = yield* Database.resolve
  yield* Effect.logInfo(info.embedded ? `embedded PostgreSQL in ${info.dataDir}` : `PostgreSQL at ${info.url}`)
  const runtime = LedgerRuntime.layerWithoutDatabase({
    projections: projections(),
    runProjections: config.projections === "inline"
  }).pipe(
    Layer.provideMerge(pgClient(url, config.databaseConnections, "verity-api")),
    Layer.provideMerge(Layer.succeed(DatabaseHealth, health))
  )
  // The thread starts once the store's migrations ran, and stops before the database goes away.
  return config.projections === "worker" ? RunnerThread.layer({ databaseUrl: url }).pipe(Layer.provideMerge(runtime)) : runtime
}))

/** The runtime on a `PgClient` provided by the caller (tests), projections inline. */
export const layerWithoutDatabase = (options: Omit<LedgerRuntime.LedgerRuntimeOptions, "projections"> = {}) =>
  LedgerRuntime.layerWithoutDatabase({ projections: projections(), ...options })
