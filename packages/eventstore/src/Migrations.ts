/**
 * The event store's tables, created by numbered migrations that this package owns. Everything lives in one
 * PostgreSQL schema (default `verity`, configurable so several stores can share a database). Running the
 * migrations is idempotent and safe from several processes at once (the migrator locks its table).
 *
 * Indexes and why they exist:
 * - events (stream_id, version) unique: stream reads, and a last line of defence for gapless versions;
 * - events (event_id) unique: a retried append is recognised by its event ids;
 * - events (transaction_id, position): the commit-safe global order readers follow;
 * - events (category, transaction_id, position): category reads and subscriptions;
 * - events (position) primary key: lookups by global position (read-your-writes by position).
 */
import { Effect } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,40}$/

const migrations = (schema: string): Record<string, Effect.Effect<void, SqlError, SqlClient>> => ({
  "1_event_store": Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${schema}.${name}`)
    yield* sql`
      CREATE TABLE ${t("streams")} (
        stream_id text PRIMARY KEY,
        category text NOT NULL,
        version bigint NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        tombstoned boolean NOT NULL DEFAULT false,
        truncate_before bigint NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      ) WITH (fillfactor = 80)`
    yield* sql`
      CREATE TABLE ${t("events")} (
        position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        stream_id text NOT NULL,
        category text NOT NULL,
        version bigint NOT NULL,
        event_id uuid NOT NULL,
        type text NOT NULL,
        schema_version integer NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
        CONSTRAINT events_event_id_key UNIQUE (event_id)
      )`
    yield* sql`CREATE INDEX events_global_order_idx ON ${t("events")} (transaction_id, position)`
    yield* sql`CREATE INDEX events_category_order_idx ON ${t("events")} (category, transaction_id, position)`
    yield* sql`
      CREATE TABLE ${t("snapshots")} (
        stream_id text NOT NULL,
        snapshot_key text NOT NULL,
        stream_version bigint NOT NULL,
        truncate_before bigint NOT NULL,
        state jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_id, snapshot_key)
      )`
    yield* sql`
      CREATE TABLE ${t("stream_operations")} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        stream_id text NOT NULL,
        operation text NOT NULL,
        details jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`
    yield* sql`CREATE INDEX stream_operations_stream_idx ON ${t("stream_operations")} (stream_id, id)`
  }),
  "2_personal_data": personalData(schema),
  "3_stream_order": streamOrder(schema),
  "4_guards": guards(schema),
  "5_command_results": commandResults(schema)
})

/**
 * The command bus's idempotency records (postgres/PgCommandResults.ts): per key, a fingerprint of the
 * command it was used for and the result recorded in the transaction of the command's append (null only
 * inside that transaction, so never visible).
 */
const commandResults = (schema: string): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${sql(`${schema}.command_results`)} (
        idempotency_key text PRIMARY KEY,
        fingerprint text NOT NULL,
        result jsonb,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`
  })

/**
 * The order key of a stream's latest append (`streams.last_transaction_id`): a new append's events take the
 * greatest of it and their own transaction id, so one stream's versions keep their order in the global
 * order even when an older transaction appends after a newer one (see postgres/Horizon.ts).
 */
const streamOrder = (schema: string): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${schema}.${name}`)
    yield* sql`ALTER TABLE ${t("streams")} ADD COLUMN last_transaction_id xid8 NOT NULL DEFAULT '0'`
    yield* sql`
      UPDATE ${t("streams")} s SET last_transaction_id = e.transaction_id
      FROM (SELECT DISTINCT ON (stream_id) stream_id, transaction_id FROM ${t("events")}
            ORDER BY stream_id, transaction_id DESC) e
      WHERE e.stream_id = s.stream_id`
  })

/**
 * Guards in the database itself:
 * - `announce_appender()` announces the current transaction as an event appender (postgres/Horizon.ts).
 * - `refuse_late_append()` raises SQLSTATE V0001: the append statements call it when their transaction took
 *   its id before announcing itself as an appender (readers could skip its events).
 * - Events are immutable: UPDATE, DELETE and TRUNCATE of the events table raise SQLSTATE V0002, unless the
 *   transaction opted into maintenance with `SET LOCAL verity.maintenance = 'on'` (the README's maintenance
 *   switch for operators; nothing in the store updates or deletes events).
 */
const guards = (schema: string): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${schema}.${name}`)
    yield* sql.unsafe(`
      CREATE FUNCTION ${schema}.refuse_late_append() RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'append refused: this transaction took its transaction id before it announced itself as an event appender'
          USING ERRCODE = 'V0001',
                HINT = 'run multi-statement transactions that append through EventStore.transaction';
      END $$`)
    yield* sql.unsafe(`
      CREATE FUNCTION ${schema}.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('verity.maintenance', true) = 'on' THEN
          RETURN NULL;
        END IF;
        RAISE EXCEPTION 'events are immutable: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'V0002',
                HINT = 'maintenance runs in a transaction with SET LOCAL verity.maintenance = ''on''';
      END $$`)
    // One round trip: refuse if the transaction already has an id (it would be late), then take the lock
    // readers look for and record the announcement for the append guard.
    yield* sql.unsafe(`
      CREATE FUNCTION ${schema}.announce_appender() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        IF pg_current_xact_id_if_assigned() IS NOT NULL
          AND current_setting('verity.appender_${schema}', true) IS DISTINCT FROM 'on' THEN
          PERFORM ${schema}.refuse_late_append();
        END IF;
        LOCK TABLE ${schema}.events IN ROW EXCLUSIVE MODE;
        PERFORM set_config('verity.appender_${schema}', 'on', true);
      END $$`)
    yield* sql`CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON ${t("events")}
      FOR EACH STATEMENT EXECUTE FUNCTION ${t("refuse_event_change")}()`
  })

const personalData = (schema: string): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${schema}.${name}`)
    // One data key per data subject, wrapped by a master key that lives outside the database. Forgetting a
    // subject destroys its key for ever: the row stays (key columns NULL) so the subject can never get a
    // new key that would make anything of it readable again.
    yield* sql`
      CREATE TABLE ${t("subject_keys")} (
        subject_id text PRIMARY KEY,
        master_key_id text,
        wrapped_key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        rotated_at timestamptz,
        forgotten_at timestamptz,
        CONSTRAINT subject_keys_forgotten_or_keyed CHECK ((forgotten_at IS NULL) = (wrapped_key IS NOT NULL))
      )`
    yield* sql`CREATE INDEX subject_keys_master_idx ON ${t("subject_keys")} (master_key_id) WHERE wrapped_key IS NOT NULL`
    // Which streams hold a subject's personal data, so a forget can drop their snapshots.
    yield* sql`
      CREATE TABLE ${t("subject_streams")} (
        subject_id text NOT NULL,
        stream_id text NOT NULL,
        PRIMARY KEY (subject_id, stream_id)
      )`
  })

/** Creates or upgrades the event store tables in `schema`. Returns the migrations that ran. */
export const run = (schema: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`.pipe(
      // Two processes creating the schema at once: the loser sees a unique violation; the schema exists.
      Effect.catchReason("SqlError", "UniqueViolation", () => Effect.void)
    )
    return yield* Migrator.make({})({
      loader: Migrator.fromRecord(migrations(schema)),
      table: `${schema}.migrations`
    })
  })
