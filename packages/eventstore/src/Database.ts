/**
 * The database an application runs on, from configuration: the server named by `DATABASE_URL`, or, when
 * it is not set, an embedded PostgreSQL kept in `VERITY_DATA_DIR` (default `.data/postgres`), started on
 * demand and stopped with the application. Either way the result is a `PgClient` whose sessions end any
 * transaction left idle (`idle_in_transaction_session_timeout`), because an idle open transaction would
 * hold every subscriber of the global order back, and whose queries end soon after their client died
 * (`client_connection_check_interval`): a process killed while its statement waits on a lock must not keep
 * holding the rows it locked, and the stream its appends serialise, until the server notices by itself.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import * as Path from "node:path"
import * as EmbeddedPostgres from "./EmbeddedPostgres.ts"

export interface DatabaseOptions {
  readonly maxConnections?: number
  /** Milliseconds an idle open transaction may last before the server ends it (default 60 s). */
  readonly idleTransactionTimeout?: number
  readonly applicationName?: string
}

/** Where the database came from, for logs and status pages. */
export interface DatabaseInfo {
  readonly embedded: boolean
  /** The URL without its password. */
  readonly url: string
  readonly dataDir: string | undefined
}

const redactUrl = (url: string) => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable URL)"
  }
}

/** Resolves the database URL, starting the embedded server (for the caller's scope) when needed. */
export const resolve = Effect.gen(function*() {
  const configured = yield* Config.option(Config.Redacted("DATABASE_URL"))
  if (Option.isSome(configured) && Redacted.value(configured.value) !== "") {
    const url = Redacted.value(configured.value)
    return { url, info: { embedded: false, url: redactUrl(url), dataDir: undefined } satisfies DatabaseInfo }
  }
  const dataDir = Path.resolve(yield* Config.String("VERITY_DATA_DIR").pipe(Config.withDefault(".data/postgres")))
  const port = yield* Config.Int("VERITY_EMBEDDED_PG_PORT").pipe(Config.option)
  const server = yield* EmbeddedPostgres.start({ dataDir, ...(Option.isSome(port) ? { port: port.value } : {}) })
  return { url: server.url, info: { embedded: true, url: redactUrl(server.url), dataDir } satisfies DatabaseInfo }
})

/** How often a running query checks that its client is still connected (PostgreSQL 14+). */
export const CLIENT_CHECK_MILLIS = "2000"

/** A `PgClient` (and `SqlClient`) on the configured or embedded database. */
export const layer = (options: DatabaseOptions = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const { info, url } = yield* resolve
    yield* Effect.logInfo(info.embedded ? `embedded PostgreSQL in ${info.dataDir}` : `PostgreSQL at ${info.url}`)
    return PgClient.layer({
      url: Redacted.make(url),
      maxConnections: options.maxConnections ?? 20,
      applicationName: options.applicationName ?? "verity",
      startupParameters: {
        idle_in_transaction_session_timeout: String(options.idleTransactionTimeout ?? 60_000),
        client_connection_check_interval: CLIENT_CHECK_MILLIS
      }
    })
  }))
