/**
 * The chaos run's own PostgreSQL: an embedded server (EmbeddedPostgres) in a temp folder on a fixed free
 * port, so that it can be killed and started again on the same folder and port while every Verity process
 * keeps the same `DATABASE_URL`. Each life of the server lives in a scope of its own: `kill` sends SIGKILL to
 * the postmaster (read from `postmaster.pid`, the server's own record), `restart` starts a new life once the
 * old one's backends are gone. `terminateBackends` ends every client connection without stopping the server.
 * The last life is stopped, and the folder deleted, when the caller's scope closes.
 */
import { PgClient } from "@effect/sql-pg"
import { EmbeddedPostgres } from "@verity/postgres"
import { Effect, Exit, Layer, Redacted, Schedule, Schema, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

export class DatabaseFault
  extends Schema.TaggedError<DatabaseFault>()("DatabaseFault", { message: Schema.String, cause: Schema.optional(Schema.Defect()) })
{}

export interface ChaosDatabase {
  readonly url: string
  readonly dataDir: string
  /** SIGKILL of the postmaster (its backends die with it, uncleanly); returns its pid. */
  readonly kill: Effect.Effect<number, DatabaseFault>
  /** Starts the server again on the same folder and port (crash recovery runs); resolves once it accepts connections. */
  readonly restart: Effect.Effect<void, DatabaseFault>
  /** pg_terminate_backend of every other client connection; returns how many were ended. */
  readonly terminateBackends: Effect.Effect<number, DatabaseFault>
  /** What every client connection is doing (for a fault that did not recover): one line each. */
  readonly activity: Effect.Effect<ReadonlyArray<string>, DatabaseFault>
}

const postmasterPid = (dataDir: string) =>
  Effect.tryPromise({
    try: async () => Number.parseInt((await Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0] ?? "", 10),
    catch: (cause) => new DatabaseFault({ message: `no postmaster.pid in ${dataDir}`, cause })
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Starts the server in `root/postgres` on a free port; it is stopped when the scope closes. */
export const make = (root: string): Effect.Effect<ChaosDatabase, DatabaseFault, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = Path.join(root, "postgres")
    const port = yield* EmbeddedPostgres.freePort.pipe(Effect.mapError((e) => new DatabaseFault({ message: e.message, cause: e })))
    const outer = yield* Effect.scope
    let life: Scope.Closeable | undefined
    let url = ""

    const startLife = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const running = yield* EmbeddedPostgres.start({ dataDir, port }).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void)),
        Effect.mapError((e) => new DatabaseFault({ message: e.message, cause: e }))
      )
      life = scope
      url = running.url
    })
    yield* startLife
    yield* Scope.addFinalizer(outer, Effect.suspend(() => (life === undefined ? Effect.void : Scope.close(life, Exit.void))))

    const kill = Effect.gen(function*() {
      const pid = yield* postmasterPid(dataDir)
      yield* Effect.try({
        try: () => process.kill(pid, "SIGKILL"),
        catch: (cause) => new DatabaseFault({ message: `could not kill the postmaster ${pid}`, cause })
      })
      // The old life's finalizer only waits for a process that is already gone.
      const old = life
      life = undefined
      if (old !== undefined) yield* Scope.close(old, Exit.void)
      yield* Effect.sleep("50 millis").pipe(
        Effect.repeat({ until: () => !alive(pid) }),
        Effect.timeout("10 seconds"),
        Effect.mapError((cause) => new DatabaseFault({ message: `postmaster ${pid} survived SIGKILL`, cause }))
      )
      return pid
    })

    // Backends of the killed postmaster may still hold its shared memory for a moment: the new server
    // refuses to start until they are gone, so the start is retried.
    const restart = startLife.pipe(
      Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 80 }),
      Effect.withSpan("ChaosDatabase.restart")
    )

    const terminateBackends = Effect.suspend(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        // In the select list, not the WHERE clause: PostgreSQL may evaluate the conditions of a WHERE in any
        // order, and would then end this very connection too.
        const rows = yield* sql<{ readonly ended: boolean }>`
        SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`
        return rows.filter((r) => r.ended).length
      })
    ).pipe(
      Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))),
      Effect.mapError((cause) => new DatabaseFault({ message: "could not terminate the backends", cause }))
    )

    const activity = Effect.suspend(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const rows = yield* sql<{ readonly line: string }>`
        SELECT format('pid %s %s %s%s, transaction %s s, waiting %s s: %s', pid, application_name, state,
          coalesce(' on ' || wait_event_type || '/' || wait_event, ''),
          coalesce(round(extract(epoch FROM now() - xact_start))::text, '-'),
          coalesce(round(extract(epoch FROM now() - state_change))::text, '-'),
          left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 160)) AS line
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        ORDER BY xact_start`
        return rows.map((r) => r.line)
      })
    ).pipe(
      Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))),
      Effect.mapError((cause) => new DatabaseFault({ message: "could not read pg_stat_activity", cause }))
    )

    return {
      url,
      dataDir,
      activity,
      kill,
      restart,
      terminateBackends
    }
  })
