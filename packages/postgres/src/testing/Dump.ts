/**
 * A full dump of the test database as text, to search for plaintext that must not be there: `pg_dump` when
 * the machine's `pg_dump` has the server's major version (it refuses newer servers), otherwise the text of
 * every row of every table in every schema but the catalogs (what a dump's data section holds).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { execFile } from "node:child_process"

const run = (command: string, args: ReadonlyArray<string>) =>
  Effect.callback<string | undefined>((resume) => {
    execFile(command, [...args], { maxBuffer: 512 * 1024 * 1024 }, (error, stdout) => {
      resume(Effect.succeed(error === null ? stdout : undefined))
    })
  })

/** The dump and how it was made (`pg_dump` or `scan`). */
export const fullDump = Effect.gen(function*() {
  const sql = yield* SqlClient
  const [server] = yield* sql<{ readonly v: string }>`SELECT current_setting('server_version_num') AS v`
  const major = Math.floor(Number(server!.v) / 10_000)
  const version = yield* run("pg_dump", ["--version"])
  const dumpMajor = version === undefined ? undefined : Number(/(\d+)\.\d+/.exec(version)?.[1])
  if (dumpMajor === major) {
    const url = (yield* PgClient.PgClient).config.url
    if (url !== undefined) {
      const dump = yield* run("pg_dump", ["--no-owner", "--dbname", Redacted.value(url)])
      if (dump === undefined) return yield* Effect.die(new Error("pg_dump failed"))
      return { how: "pg_dump" as const, text: dump }
    }
  }
  const tables = yield* sql<{ readonly schema: string; readonly name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`
  const texts: Array<string> = []
  for (const table of tables) {
    const rows = yield* sql<{ readonly json: string }>`SELECT to_jsonb(t)::text AS json FROM ${sql(`${table.schema}.${table.name}`)} t`
    for (const row of rows) texts.push(`${table.schema}.${table.name} ${row.json}`)
  }
  return { how: "scan" as const, text: texts.join("\n") }
}).pipe(Effect.orDie)
