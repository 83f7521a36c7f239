/**
 * The API's own tables, in schema `verity_api`, created by numbered migrations this app owns (the store
 * and the projections own theirs). Idempotent and safe from several API processes at once: the migrator
 * locks its table.
 */
import { Effect } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export const SCHEMA = "verity_api"

const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient>> = {
  "1_idempotency_keys": Effect.gen(function*() {
    const sql = yield* SqlClient
    // One row per (token name, key): the request's fingerprint and the response first given to it. The row
    // is written in the same transaction as the events the request appended, so a request either decided
    // and recorded its answer, or did neither. `subject_id` names the account whose holder the request
    // concerned, so forgetting that holder can drop the fingerprint of a body that held their data.
    yield* sql`
      CREATE TABLE ${sql(`${SCHEMA}.idempotency_keys`)} (
        principal text NOT NULL,
        key text NOT NULL,
        request_hash text,
        subject_id text,
        method text NOT NULL,
        path text NOT NULL,
        status integer NOT NULL,
        headers jsonb NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (principal, key)
      )`
    yield* sql`CREATE INDEX idempotency_keys_subject_idx ON ${sql(`${SCHEMA}.idempotency_keys`)} (subject_id)
      WHERE subject_id IS NOT NULL`
    yield* sql`CREATE INDEX idempotency_keys_created_idx ON ${sql(`${SCHEMA}.idempotency_keys`)} (created_at)`
  })
}

/** How many migrations this code expects (readiness compares it with the table). */
export const expected = Object.keys(migrations).length

export const run = Effect.gen(function*() {
  const sql = yield* SqlClient
  yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(SCHEMA)}`.pipe(
    Effect.catchReason("SqlError", "UniqueViolation", () => Effect.void)
  )
  return yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: `${SCHEMA}.migrations` })
})

/** Migrations applied so far, by table (`verity` store, `verity_api`): for readiness. */
export const applied = Effect.gen(function*() {
  const sql = yield* SqlClient
  const rows = yield* sql<{ readonly store: number; readonly api: number }>`
    SELECT
      (SELECT count(*) FROM verity.migrations)::int AS store,
      (SELECT count(*) FROM ${sql(`${SCHEMA}.migrations`)})::int AS api`
  return rows[0] ?? { store: 0, api: 0 }
})
