/**
 * The runtime's own tables, in schema `verity_projections`:
 * - `projections`: one row per projection, naming the generation readers see (its views point there);
 * - `generations`: each generation's checkpoint (advanced in the same transaction as the read model), its
 *   state (building, active, retired), the code version that builds it, and who runs it;
 * - `parked_streams` / `parked_events`: streams whose events keep failing, and the events waiting behind;
 * - `dead_letters`: events an operator chose to skip, kept for the record.
 *
 * Migration 2 adds to `generations`: `verify_switch` (false: a rebuild asked to switch unverified),
 * `refusal` (the differing rows when the verified switch was refused; such a generation never becomes
 * active) and `erasures_checkpoint` (how far erasure events were applied to a generation no runner follows,
 * e.g. a retired one, until it is dropped).
 */
import { Effect } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export const SCHEMA = "verity_projections"

const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient>> = {
  "1_runtime": Effect.gen(function*() {
    const sql = yield* SqlClient
    const t = (name: string) => sql(`${SCHEMA}.${name}`)
    yield* sql`
      CREATE TABLE ${t("projections")} (
        name text PRIMARY KEY,
        active_generation integer,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`
    yield* sql`
      CREATE TABLE ${t("generations")} (
        name text NOT NULL REFERENCES ${t("projections")} (name),
        generation integer NOT NULL,
        version integer NOT NULL,
        state text NOT NULL CHECK (state IN ('building', 'active', 'retired')),
        checkpoint text NOT NULL,
        position bigint NOT NULL DEFAULT 0,
        events_applied bigint NOT NULL DEFAULT 0,
        owner text,
        heartbeat_at timestamptz,
        runner_state text,
        last_error text,
        last_error_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retired_at timestamptz,
        PRIMARY KEY (name, generation)
      )`
    yield* sql`
      CREATE TABLE ${t("parked_streams")} (
        name text NOT NULL,
        generation integer NOT NULL,
        stream_id text NOT NULL,
        position bigint NOT NULL,
        event_type text NOT NULL,
        error text NOT NULL,
        attempts integer NOT NULL,
        parked_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, generation, stream_id)
      )`
    yield* sql`
      CREATE TABLE ${t("parked_events")} (
        name text NOT NULL,
        generation integer NOT NULL,
        stream_id text NOT NULL,
        position bigint NOT NULL,
        PRIMARY KEY (name, generation, stream_id, position)
      )`
    yield* sql`
      CREATE TABLE ${t("dead_letters")} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL,
        generation integer NOT NULL,
        stream_id text NOT NULL,
        position bigint NOT NULL,
        event_type text NOT NULL,
        error text NOT NULL,
        skipped_by text NOT NULL,
        skipped_at timestamptz NOT NULL DEFAULT now()
      )`
  }),
  "2_verified_switch_and_erasure": Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      ALTER TABLE ${sql(`${SCHEMA}.generations`)}
        ADD COLUMN verify_switch boolean NOT NULL DEFAULT true,
        ADD COLUMN refusal jsonb,
        ADD COLUMN erasures_checkpoint text`
  })
}

export const run = Effect.gen(function*() {
  const sql = yield* SqlClient
  yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(SCHEMA)}`.pipe(
    Effect.catchReason("SqlError", "UniqueViolation", () => Effect.void)
  )
  return yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: `${SCHEMA}.migrations` })
})
