/**
 * What every part of the PostgreSQL store shares: the client, the identifiers of the store's tables in its
 * schema, the horizon statements, and the one way events are selected and turned into `RecordedEvent`s
 * (column aliases are fixed here so every statement selects events the same way).
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import * as Checkpoint from "../Checkpoint.ts"
import type { EventMetadata, RecordedEvent } from "../Events.ts"
import type * as StoreRules from "../StoreRules.ts"
import * as Horizon from "./Horizon.ts"

export interface Tables {
  readonly pg: PgClient.PgClient
  /** The client without name transforms: every statement of the store runs on it. */
  readonly sql: SqlClient
  readonly schema: string
  readonly streams: Statement.Identifier
  readonly events: Statement.Identifier
  readonly snapshots: Statement.Identifier
  readonly operations: Statement.Identifier
  /** The select list for an `events` row aliased `e`, matching `EventRow`. */
  readonly columns: Statement.Fragment
  readonly horizon: Horizon.HorizonSql
  /** The newest order key committed: events wait behind the horizon when it is at or above it. */
  readonly newestKey: Statement.Fragment
}

/** The tables of the store in `schema` (already validated against `Migrations.SCHEMA_PATTERN`). */
export const make = (pg: PgClient.PgClient, schema: string): Tables => {
  const sql = pg.withoutTransforms()
  const events = sql(`${schema}.events`)
  return {
    pg,
    sql,
    schema,
    streams: sql(`${schema}.streams`),
    events,
    snapshots: sql(`${schema}.snapshots`),
    operations: sql(`${schema}.stream_operations`),
    columns: eventColumns(sql),
    horizon: Horizon.make(sql, schema),
    newestKey: sql`(SELECT k.transaction_id FROM ${events} k ORDER BY k.transaction_id DESC LIMIT 1)`
  }
}

export interface EventRow {
  readonly position: bigint
  readonly tx: bigint
  readonly stream_id: string
  readonly version: bigint
  readonly event_id: string
  readonly type: string
  readonly schema_version: number
  readonly data: unknown
  readonly metadata: EventMetadata
  readonly recorded_at: Date
}

const eventColumns = (sql: SqlClient) =>
  sql.literal(
    "e.position, e.transaction_id::text::int8 AS tx, e.stream_id, e.version, e.event_id::text AS event_id, " +
      "e.type, e.schema_version, e.data, e.metadata, e.recorded_at"
  )

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  streamId: row.stream_id,
  version: Number(row.version),
  position: row.position,
  transactionId: row.tx,
  checkpoint: Checkpoint.make(row.tx, row.position),
  eventId: row.event_id,
  type: row.type,
  schemaVersion: row.schema_version,
  data: row.data,
  metadata: row.metadata,
  recordedAt: row.recorded_at
})

/** The rows of a statement that joins events to a header row: the events, skipping a header without one. */
export const eventsOf = (rows: ReadonlyArray<EventRow>): Array<RecordedEvent> => {
  const events: Array<RecordedEvent> = []
  // A LEFT JOIN that found no event yields one row whose event columns are null.
  for (const row of rows) if (row.position !== null) events.push(toRecordedEvent(row))
  return events
}

/** The current state of a stream's row, as the store's rules see it (`undefined` when it has none). */
export const streamState = (tables: Tables, stream: string): Effect.Effect<StoreRules.StreamState | undefined, SqlError> =>
  tables.sql<{ readonly version: bigint; readonly deleted: boolean; readonly tombstoned: boolean }>`
        SELECT version, deleted, tombstoned FROM ${tables.streams} WHERE stream_id = ${stream}`.pipe(
    Effect.map((rows) => {
      const row = rows[0]
      return row === undefined ? undefined : { version: Number(row.version), deleted: row.deleted, tombstoned: row.tombstoned }
    })
  )
