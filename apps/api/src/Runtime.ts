/**
 * The ledger runtime this API runs on: the event store (with crypto-shredding) and the projection runtime
 * with the ledger's read models and the transfer process manager, on the configured database
 * (`DATABASE_URL`) or an embedded PostgreSQL in `VERITY_DATA_DIR` (default `.data/postgres`). The
 * projections run in a worker thread by default (see RunnerThread.ts); the request thread then keeps the
 * `Projections` service for status, controls and read-your-writes, which work across threads and
 * processes through the database.
 *
 * With `NATS_URL` set, the relay (projection `relay`) publishes the ledger's published contracts to NATS
 * JetStream from wherever the projections run, and `BrokerHealth` probes the broker for `/ready`; without
 * it, neither exists and nothing connects to a broker. The ledger's inboxes (`fraud_watch`) run next to the
 * relay, wherever the projections run (`VERITY_INBOX=off` turns them off); the request thread reads their
 * status from the database and the broker (InboxStatusReader), since they may run in the worker thread.
 */
import { PgClient } from "@effect/sql-pg"
import { BrokerHealth, RelayConfig } from "@verity/integration"
import { LedgerContracts, LedgerReadModels, LedgerRuntime, LedgerTransferProcess } from "@verity/ledger"
import { Database, DatabaseHealth } from "@verity/postgres"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import * as RunnerThread from "./RunnerThread.ts"

/** Every projection the API serves and runs. */
export const projections = () => [...LedgerReadModels.all, LedgerTransferProcess.projection]

/** What the relay publishes when `NATS_URL` is set: the ledger's published contracts. */
export const contracts = LedgerContracts.all

/** The broker probe for `/ready` when `NATS_URL` is set; no service otherwise. */
export const brokerHealth = Layer.effectContext(
  Effect.map(
    RelayConfig.brokerHealth,
    Option.match({ onNone: () => Context.empty(), onSome: (probe) => Context.make(BrokerHealth.BrokerHealth, probe) })
  )
)

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
    contracts,
    runProjections: config.projections === "inline",
    runInboxes: config.projections === "inline"
  }).pipe(
    Layer.merge(brokerHealth),
    Layer.provideMerge(pgClient(url, config.databaseConnections, "verity-api")),
    Layer.provideMerge(Layer.succeed(DatabaseHealth, health))
  )
  // The thread starts once the store's migrations ran, and stops before the database goes away.
  return config.projections === "worker" ? RunnerThread.layer({ databaseUrl: url }).pipe(Layer.provideMerge(runtime)) : runtime
}))

/** The runtime on a `PgClient` provided by the caller (tests), projections inline. */
export const layerWithoutDatabase = (options: Omit<LedgerRuntime.LedgerRuntimeOptions, "projections"> = {}) =>
  LedgerRuntime.layerWithoutDatabase({ projections: projections(), contracts, ...options }).pipe(Layer.merge(brokerHealth))
