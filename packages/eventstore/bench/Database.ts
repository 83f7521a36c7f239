/**
 * Where the benchmark runs: the server named by `DATABASE_URL`, or an embedded PostgreSQL started for the
 * run. Either way the run gets a brand-new database, dropped at the end, so results never depend on
 * leftovers of an earlier run (table sizes, bloat, statistics) and a run leaves nothing behind.
 */
import { PgClient } from "@effect/sql-pg"
import { EmbeddedPostgres } from "@verity/postgres"
import { Effect, Redacted } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Server {
  /** A URL on which the benchmark may create and drop databases. */
  readonly url: string
  readonly embedded: boolean
}

export interface ServerInfo {
  readonly version: string
  /** A backend of this client's pool (to find the server's processes when it runs on this machine). */
  readonly backendPid: number
  /** Settings that move write numbers by an order of magnitude; printed so results can be compared. */
  readonly settings: Readonly<Record<string, string>>
}

/** Runs `f` on a one-connection client to `url` (creating and dropping databases needs no pool). */
const withAdmin = <A>(url: string, f: (sql: PgClient.PgClient) => Effect.Effect<A, SqlError>) =>
  Effect.gen(function*() {
    return yield* f(yield* PgClient.PgClient)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1, connectTimeout: "10 seconds" })))

/** `DATABASE_URL`, or an embedded PostgreSQL (stopped and deleted when the scope closes). */
export const server = (databaseUrl: string | undefined) =>
  databaseUrl !== undefined
    ? Effect.succeed<Server>({ url: databaseUrl, embedded: false })
    : EmbeddedPostgres.start({
      dataDir: Path.join(Os.tmpdir(), `verity-bench-pg-${process.pid}-${Date.now().toString(36)}`),
      ephemeral: true
    }).pipe(Effect.map((running): Server => ({ url: running.url, embedded: true })))

export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** A fresh `verity_bench_<timestamp>` database on `server`, dropped (with FORCE) when the scope closes. */
export const freshDatabase = (server: Server) =>
  Effect.gen(function*() {
    const name = `verity_bench_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${process.pid}`
    yield* Effect.acquireRelease(
      withAdmin(server.url, (sql) => sql`CREATE DATABASE ${sql(name)}`.pipe(Effect.asVoid)),
      () =>
        withAdmin(server.url, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(
          // An embedded server may already be gone (Ctrl-C), and its whole cluster with it: nothing to report.
          Effect.tapError((error) =>
            server.embedded
              ? Effect.void
              : Effect.sync(() => process.stderr.write(`[bench] could not drop database ${name}: ${error.message}\n`))
          ),
          Effect.ignore
        )
    )
    return { name, url: withDatabase(server.url, name) }
  })

const SETTINGS = ["fsync", "synchronous_commit", "shared_buffers", "wal_buffers", "max_connections"] as const

export const serverInfo = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const rows = yield* sql<{ readonly name: string; readonly setting: string }>`
    SELECT name, current_setting(name) AS setting FROM unnest(${["server_version", ...SETTINGS]}::text[]) AS name`
  const settings: Record<string, string> = {}
  for (const row of rows) settings[row.name] = row.setting
  const { server_version: version = "unknown", ...rest } = settings
  const pid = yield* sql<{ readonly pid: number }>`SELECT pg_backend_pid() AS pid`
  return { version, backendPid: pid[0]!.pid, settings: rest } satisfies ServerInfo
})
