/**
 * Where the read-model benchmark runs: the server named by `DATABASE_URL`, or an embedded PostgreSQL started
 * for the run (default settings, data folder deleted afterwards). Either way a brand-new database is
 * created for the run and dropped at the end, so numbers never depend on leftovers of an earlier run.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Server {
  readonly url: string
  readonly embedded: boolean
}

const withAdmin = <A>(url: string, f: (sql: PgClient.PgClient) => Effect.Effect<A, SqlError>) =>
  Effect.gen(function*() {
    return yield* f(yield* PgClient.PgClient)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1, connectTimeout: "10 seconds" })))

export const server = (databaseUrl: string | undefined) => {
  if (databaseUrl !== undefined) return Effect.succeed<Server>({ url: databaseUrl, embedded: false })
  const dataDir = Path.join(Os.tmpdir(), `verity-projections-bench-${process.pid}-${Date.now().toString(36)}`)
  return Effect.gen(function*() {
    // Loaded only when used: it installs signal hooks of its own.
    const { EmbeddedPostgres } = yield* Effect.promise(() => import("@verity/postgres"))
    process.once("exit", () => Fs.rmSync(dataDir, { recursive: true, force: true }))
    const running = yield* EmbeddedPostgres.start({ dataDir, ephemeral: true })
    return { url: running.url, embedded: true } satisfies Server
  })
}

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** A fresh database on `server`, dropped (with FORCE) when the scope closes. */
export const freshDatabase = (server: Server) =>
  Effect.gen(function*() {
    const name = `verity_projections_bench_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${process.pid}`
    yield* Effect.acquireRelease(
      withAdmin(server.url, (sql) => sql`CREATE DATABASE ${sql(name)}`.pipe(Effect.asVoid)),
      () => withAdmin(server.url, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(Effect.ignore)
    )
    return { name, url: withDatabase(server.url, name) }
  })

export const serverInfo = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const names = ["server_version", "shared_buffers", "fsync", "synchronous_commit", "max_connections"]
  const rows = yield* sql<{ readonly name: string; readonly setting: string }>`
    SELECT name, current_setting(name) AS setting FROM unnest(${names}::text[]) AS name`
  return Object.fromEntries(rows.map((row) => [row.name, row.setting])) as Record<string, string>
})
