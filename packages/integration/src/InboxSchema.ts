/**
 * The inbox's own tables, in schema `verity_inbox` (migrated by the inbox on start, once per database):
 * - `handled`: the de-duplication record, one row per (consumer, message id), written in the same
 *   transaction as the handler's effects, so a redelivered message finds it and is acknowledged unhandled;
 * - `consumers`: per consumer, the last handled message (broker sequence, store position, stream, time);
 * - `parked_streams` / `parked_messages`: source streams whose message kept failing, and the messages
 *   held behind it (the failing one first), kept here so the broker's copy can be acknowledged;
 * - `dead_letters`: messages an operator chose to skip, kept for the record;
 * - `leases`: per consumer, the process allowed to consume (owner, fencing token, expiry by the
 *   database's clock), so that one inbox name has one active consumer across processes (InboxLease.ts).
 * Payloads are stored as text: published messages are UTF-8 JSON.
 */
import { Effect } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export const SCHEMA = "verity_inbox"

const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient>> = {
  "1_inbox": Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${SCHEMA}.${name}`)
    yield* sql`
      CREATE TABLE ${t("handled")} (
        consumer text NOT NULL,
        message_id text NOT NULL,
        stream_id text NOT NULL,
        seq bigint NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`
    yield* sql`
      CREATE TABLE ${t("consumers")} (
        name text PRIMARY KEY,
        handled bigint NOT NULL DEFAULT 0,
        last_seq bigint,
        last_position bigint,
        last_stream text,
        last_handled_at timestamptz
      )`
    yield* sql`
      CREATE TABLE ${t("parked_streams")} (
        consumer text NOT NULL,
        stream_id text NOT NULL,
        message_id text NOT NULL,
        error text NOT NULL,
        attempts integer NOT NULL,
        parked_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, stream_id)
      )`
    yield* sql`
      CREATE TABLE ${t("parked_messages")} (
        consumer text NOT NULL,
        stream_id text NOT NULL,
        seq bigint NOT NULL,
        message_id text NOT NULL,
        subject text NOT NULL,
        headers jsonb NOT NULL,
        payload text NOT NULL,
        PRIMARY KEY (consumer, message_id)
      )`
    yield* sql`CREATE INDEX ON ${t("parked_messages")} (consumer, stream_id, seq)`
    yield* sql`
      CREATE TABLE ${t("dead_letters")} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        consumer text NOT NULL,
        stream_id text NOT NULL,
        seq bigint NOT NULL,
        message_id text NOT NULL,
        subject text NOT NULL,
        headers jsonb NOT NULL,
        payload text NOT NULL,
        error text NOT NULL,
        skipped_by text NOT NULL,
        skipped_at timestamptz NOT NULL DEFAULT now()
      )`
  }),
  "2_leases": Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${sql(`${SCHEMA}.leases`)} (
        consumer text PRIMARY KEY,
        owner text NOT NULL,
        token text NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`
  })
}

/** Creates or upgrades the schema (the migrations table records what ran). */
export const migrate = Effect.gen(function*() {
  const sql = yield* SqlClient
  yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(SCHEMA)}`.pipe(
    Effect.catchReason("SqlError", "UniqueViolation", () => Effect.void)
  )
  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: `${SCHEMA}.migrations` })
})
