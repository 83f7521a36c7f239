/**
 * The command bus's idempotency records on PostgreSQL, in the store's schema (`command_results`, created by
 * the store's migration 5). `once` runs in one `EventStore.transaction`: it claims the key with an insert
 * (a concurrent claim of the same key waits on the unique index until the first transaction ends), runs
 * the command (whose append joins the transaction) and records its result; a claim that finds the key
 * committed compares fingerprints and answers the recorded result. A failure rolls back the claim with
 * the append, so a result exists exactly when the command's events committed.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { CommandResults, type Once } from "../command-bus/CommandResults.ts"
import { IdempotencyKeyReused } from "../Errors.ts"
import { EventStore } from "../EventStore.ts"
import * as Migrations from "../Migrations.ts"
import { mapSqlErrors } from "./SqlErrors.ts"

export interface PgCommandResultsOptions {
  /** The event store's schema (default `verity`). */
  readonly schema?: string
}

export const make = (options: PgCommandResultsOptions = {}) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const schema = options.schema ?? "verity"
    if (!Migrations.SCHEMA_PATTERN.test(schema)) {
      return yield* Effect.die(new Error(`invalid event store schema name: ${schema}`))
    }
    const sql = pg.withoutTransforms()
    const table = sql(`${schema}.command_results`)

    const claim = (key: string, fingerprint: string) =>
      Effect.gen(function*() {
        const inserted = yield* sql`
          INSERT INTO ${table} (idempotency_key, fingerprint) VALUES (${key}, ${fingerprint})
          ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1 AS claimed`
        if (inserted.length > 0) return undefined
        // The insert waited for the transaction that holds the key: its row is committed now.
        const rows = yield* sql<{ readonly fingerprint: string; readonly result: unknown }>`
          SELECT fingerprint, result FROM ${table} WHERE idempotency_key = ${key}`
        return rows[0]
      }).pipe(mapSqlErrors("CommandResults.claim"))

    const once = <A, E, R>(key: string, fingerprint: string, run: Effect.Effect<A, E, R>, record: (value: A) => unknown) =>
      Effect.gen(function*() {
        const store = yield* EventStore
        return yield* store.transaction(Effect.gen(function*() {
          const existing = yield* claim(key, fingerprint)
          if (existing !== undefined) {
            if (existing.fingerprint !== fingerprint) return yield* new IdempotencyKeyReused({ idempotencyKey: key })
            return { _tag: "Recorded", result: existing.result } satisfies Once<A>
          }
          const value = yield* run
          yield* sql`UPDATE ${table} SET result = ${pg.json(record(value))} WHERE idempotency_key = ${key}`.pipe(
            mapSqlErrors("CommandResults.record")
          )
          return { _tag: "Ran", value } satisfies Once<A>
        }))
      }).pipe(Effect.withSpan("CommandResults.once"))

    return CommandResults.of({ once })
  })

/** Idempotency records in the store's schema, on the `PgClient` in context (the store's migrations create the table). */
export const layer = (options: PgCommandResultsOptions = {}) => Layer.effect(CommandResults, make(options))
