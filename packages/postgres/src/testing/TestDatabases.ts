/**
 * The PostgreSQL servers a test run uses, and a fresh database per suite on each of them.
 *
 * A run has one or more targets (the embedded PostgreSQL 18 and, when `DATABASE_URL` is set, that server).
 * Suites call `forEachDatabase` to be registered once per target, and build `TestDatabase.layer(target)`
 * to get a `PgClient` on a brand-new database that is dropped afterwards: suites never see each other's
 * rows, notifications or locks, yet share one server process.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { describe, inject } from "vitest"
import type { TestTarget } from "./Targets.ts"

/** The targets of this run, as provided by the global setup. */
export const databases = (): ReadonlyArray<TestTarget> => inject("verityDatabases")

/** Registers the suites built by `f` once per database target. */
export const forEachDatabase = (f: (target: TestTarget) => void): void => {
  for (const target of databases()) describe(`[${target.name}]`, () => f(target))
}

export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

let counter = 0
const freshName = (): string =>
  `verity_test_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}_${Math.random().toString(36).slice(2, 8)}`

/** Runs `f` with a short-lived client on the target's own database (used to create and drop test databases). */
const admin = <A>(target: TestTarget, f: (sql: PgClient.PgClient) => Effect.Effect<A, SqlError>) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    return yield* f(sql)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(target.url), maxConnections: 1 })))

export interface TestDatabaseOptions {
  readonly maxConnections?: number
}

/**
 * A brand-new, empty database on `target` for the lifetime of the layer, as a `PgClient`. The database is
 * dropped (terminating leftover connections) when the layer is released.
 */
export const layer = (target: TestTarget, options: TestDatabaseOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const name = freshName()
      yield* Effect.acquireRelease(
        admin(target, (sql) => sql`CREATE DATABASE ${sql(name)}`.pipe(Effect.asVoid)),
        () => admin(target, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(Effect.ignore)
      )
      return PgClient.layer({
        url: Redacted.make(withDatabase(target.url, name)),
        maxConnections: options.maxConnections ?? 8
      })
    })
  )

/** The URL of a brand-new database on `target`, dropped when the scope closes (for child processes). */
export const freshDatabaseUrl = (target: TestTarget) =>
  Effect.gen(function*() {
    const name = freshName()
    yield* Effect.acquireRelease(
      admin(target, (sql) => sql`CREATE DATABASE ${sql(name)}`.pipe(Effect.asVoid)),
      () => admin(target, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(Effect.ignore)
    )
    return withDatabase(target.url, name)
  })
