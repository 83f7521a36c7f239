/**
 * The database an application runs on, from configuration: the server named by `DATABASE_URL`, or, when
 * it is not set, an embedded PostgreSQL kept in `VERITY_DATA_DIR` (default `.data/postgres`), started on
 * demand and stopped with the application. Either way the result is a `PgClient` whose sessions end any
 * transaction left idle (`idle_in_transaction_session_timeout`), because an idle open transaction would
 * hold every subscriber of the global order back, and whose queries end soon after their client died
 * (`client_connection_check_interval`): a process killed while its statement waits on a lock must not keep
 * holding the rows it locked, and the stream its appends serialise, until the server notices by itself.
 *
 * On the embedded database a watchdog checks the server twice a second. When it died (kill -9, a crash),
 * the watchdog restarts it on the same port (or attaches to the server another process restarted first:
 * the start lock lets exactly one start it), so every pool reconnects to the same URL. After
 * `VERITY_EMBEDDED_PG_RESTART_ATTEMPTS` failed attempts (default 5, with backoff), or at once when the data
 * folder is gone, it gives up: `DatabaseHealth.unrecoverable` fails, and the entry points exit non-zero.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Deferred, Effect, Exit, Layer, Option, Redacted, Ref } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { DatabaseHealth, type DatabaseState, DatabaseUnrecoverable } from "./DatabaseHealth.ts"
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

/**
 * Keeps the embedded server alive for this process (see the header), for the caller's scope. Any process
 * using the data folder runs one, so the server comes back whichever of them survives.
 */
export const watch = (server: EmbeddedPostgres.EmbeddedServer, options: { readonly maxAttempts: number }) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<DatabaseState>({ _tag: "Up" })
    const gaveUp = yield* Deferred.make<never, DatabaseUnrecoverable>()
    const giveUp = (reason: string) =>
      Effect.gen(function*() {
        yield* Ref.set(state, { _tag: "Unrecoverable", reason })
        yield* Effect.logError(`embedded PostgreSQL cannot be recovered: ${reason}`)
        yield* Deferred.fail(gaveUp, new DatabaseUnrecoverable({ message: reason }))
      })
    const folderExists = Effect.promise(() => Fs.stat(Path.join(server.dataDir, "PG_VERSION")).then(() => true, () => false))
    const recover = Effect.gen(function*() {
      const since = Date.now()
      let reason = `embedded PostgreSQL on ${server.dataDir} (port ${server.port}) is not running`
      for (let attempts = 1;; attempts++) {
        if (!(yield* folderExists)) return yield* giveUp(`${reason}, and ${server.dataDir} holds no cluster any more`)
        yield* Ref.set(state, {
          _tag: "Recovering",
          reason: `${reason}; restarting it (attempt ${attempts} of ${options.maxAttempts})`,
          attempts,
          since
        })
        yield* Effect.logWarning(`${reason}; restarting it (attempt ${attempts} of ${options.maxAttempts})`)
        const exit = yield* Effect.exit(server.restart)
        if (Exit.isSuccess(exit)) {
          yield* Effect.logWarning(
            exit.value === "started" ? "restarted the embedded PostgreSQL" : "another process restarted the embedded PostgreSQL: attached"
          )
          return yield* Ref.set(state, { _tag: "Up" })
        }
        reason = `embedded PostgreSQL could not be restarted: ${
          exit.cause.reasons.map((r) => r._tag === "Fail" ? r.error.message : String(r)).join("; ")
        }`
        if (attempts >= options.maxAttempts) return yield* giveUp(reason)
        yield* Effect.sleep(`${Math.min(5_000, 250 * 2 ** attempts)} millis`)
      }
    })
    yield* Effect.gen(function*() {
      while (!(yield* Deferred.isDone(gaveUp))) {
        yield* Effect.sleep("500 millis")
        if (!(yield* server.isRunning)) yield* recover
        else if ((yield* Ref.get(state))._tag !== "Up") yield* Ref.set(state, { _tag: "Up" })
      }
    }).pipe(Effect.forkScoped)
    return DatabaseHealth.of({ state: Ref.get(state), unrecoverable: Deferred.await(gaveUp) })
  })

/**
 * Resolves the database URL, starting (or attaching to) the embedded server for the caller's scope when
 * needed, with the health of the database as this process manages it.
 */
export const resolve = Effect.gen(function*() {
  const configured = yield* Config.option(Config.Redacted("DATABASE_URL"))
  if (Option.isSome(configured) && Redacted.value(configured.value) !== "") {
    const url = Redacted.value(configured.value)
    return {
      url,
      info: { embedded: false, url: redactUrl(url), dataDir: undefined } satisfies DatabaseInfo,
      health: DatabaseHealth.external
    }
  }
  const dataDir = Path.resolve(yield* Config.String("VERITY_DATA_DIR").pipe(Config.withDefault(".data/postgres")))
  const port = yield* Config.Int("VERITY_EMBEDDED_PG_PORT").pipe(Config.option)
  const maxAttempts = yield* Config.Int("VERITY_EMBEDDED_PG_RESTART_ATTEMPTS").pipe(Config.withDefault(5))
  const server = yield* EmbeddedPostgres.start({ dataDir, ...(Option.isSome(port) ? { port: port.value } : {}) })
  const health = yield* watch(server, { maxAttempts })
  return { url: server.url, info: { embedded: true, url: redactUrl(server.url), dataDir } satisfies DatabaseInfo, health }
})

/** How often a running query checks that its client is still connected (PostgreSQL 14+). */
export const CLIENT_CHECK_MILLIS = "2000"

/** A `PgClient` (and `SqlClient`) on the configured or embedded database, with its `DatabaseHealth`. */
export const layer = (options: DatabaseOptions = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const { health, info, url } = yield* resolve
    yield* Effect.logInfo(info.embedded ? `embedded PostgreSQL in ${info.dataDir}` : `PostgreSQL at ${info.url}`)
    return Layer.merge(
      Layer.succeed(DatabaseHealth, health),
      PgClient.layer({
        url: Redacted.make(url),
        maxConnections: options.maxConnections ?? 20,
        applicationName: options.applicationName ?? "verity",
        startupParameters: {
          idle_in_transaction_session_timeout: String(options.idleTransactionTimeout ?? 60_000),
          client_connection_check_interval: CLIENT_CHECK_MILLIS
        }
      })
    )
  }))
