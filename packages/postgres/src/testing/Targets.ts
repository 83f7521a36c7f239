/**
 * Works out the database targets of a test run: an embedded PostgreSQL (always: it proves the newest major
 * version with zero setup) plus the server named by `DATABASE_URL`, when set. Each target is checked with a
 * query first, so a missing or unreachable server fails loudly instead of silently skipping suites.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as EmbeddedPostgres from "../EmbeddedPostgres.ts"

export interface TestTarget {
  /** Label in test names, e.g. `pg18-embedded`. */
  readonly name: string
  /** Connection URL of a database on the server that may create and drop databases. */
  readonly url: string
}

declare module "vitest" {
  export interface ProvidedContext {
    verityDatabases: ReadonlyArray<TestTarget>
  }
}

/** Environment variable through which a parent process hands its targets to every package's test run. */
export const TARGETS_ENV = "VERITY_TEST_DATABASES"

export const parseTargets = (json: string): ReadonlyArray<TestTarget> => {
  const parsed: unknown = JSON.parse(json)
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`${TARGETS_ENV} must be a non-empty JSON array`)
  return parsed.map((entry: { name?: unknown; url?: unknown }) => {
    if (typeof entry.name !== "string" || typeof entry.url !== "string") {
      throw new Error(`${TARGETS_ENV} entries need a name and a url`)
    }
    return { name: entry.name, url: entry.url }
  })
}

const probe = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const rows = yield* sql<{ version: string }>`SELECT current_setting('server_version_num') AS version`
    return Number(rows[0]?.version ?? 0)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1, connectTimeout: "5 seconds" })),
    Effect.timeout("15 seconds")
  )

const major = (versionNum: number) => Math.floor(versionNum / 10000)

export const resolveTargets = async (): Promise<{
  readonly targets: ReadonlyArray<TestTarget>
  readonly close: () => Promise<void>
}> => {
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function*() {
    const targets: Array<TestTarget> = []
    const embedded = yield* EmbeddedPostgres.start({
      dataDir: Path.join(Os.tmpdir(), `verity-test-pg-${process.pid}-${Date.now().toString(36)}`),
      ephemeral: true,
      postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    }).pipe(Scope.provide(scope))
    targets.push({ name: `pg${major(yield* probe(embedded.url))}-embedded`, url: embedded.url })
    const server = process.env["DATABASE_URL"]
    if (server !== undefined && server !== "") {
      const version = yield* probe(server).pipe(
        Effect.mapError((cause) => new Error(`DATABASE_URL is set but the server cannot be reached: ${String(cause)}`))
      )
      targets.push({ name: `pg${major(version)}-server`, url: server })
    }
    return targets
  })
  try {
    const targets = await Effect.runPromise(program)
    return { targets, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
}
