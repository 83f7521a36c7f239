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
import type * as Checkpoint from "../Checkpoint.ts"
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
  /** The select list for an `events` row aliased `e`, read by `decoder`. */
  readonly columns: Statement.Fragment
  /** The same without the stream id, for reads of one stream. */
  readonly streamColumns: Statement.Fragment
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
    streamColumns: streamEventColumns(sql),
    horizon: Horizon.make(sql, schema),
    newestKey: sql`(SELECT k.transaction_id FROM ${events} k ORDER BY k.transaction_id DESC LIMIT 1)`
  }
}

/**
 * The select list of an event, for reads through `.values` (rows as arrays: no object per row in the
 * driver). Every column is fetched in the form that costs least to turn into its `RecordedEvent` field:
 * the version as float8 (a number, no bigint on the way), the event id as a uuid (the driver renders it
 * as PostgreSQL does, in less time than the server takes to), the metadata as text (so equal metadata of
 * consecutive events is parsed once, see `decoder`). Stream reads know the stream and leave it out.
 * Indexes: position, tx, version, event_id, type, schema_version, data, metadata, recorded_at[, stream_id].
 */
const EVENT_COLUMNS = "e.position, e.transaction_id::text::int8 AS tx, e.version::float8 AS version, " +
  "e.event_id, e.type, e.schema_version, e.data, e.metadata::text AS metadata, e.recorded_at"

const eventColumns = (sql: SqlClient) => sql.literal(`${EVENT_COLUMNS}, e.stream_id`)

/** The select list for events of one known stream (no `stream_id`): `decoder(offset, stream)` reads it. */
const streamEventColumns = (sql: SqlClient) => sql.literal(EVENT_COLUMNS)

/**
 * Turns rows of `columns` (or `streamEventColumns`, with `stream` given) starting at `offset` into
 * `RecordedEvent`s. One decoder serves one result: it remembers the previous row's transaction id (whose
 * rendering starts every checkpoint, and which all events of one append share) and metadata text (one
 * append's events usually carry the same), so each is rendered or parsed once per run of equal values.
 * Events with equal metadata then share one metadata object, which like the rest of an event is read-only.
 */
export const decoder = (offset: number, stream?: string) => {
  let tx: bigint | undefined
  let txPrefix = ""
  let metadataText: string | undefined
  let metadata: EventMetadata = {}
  // The casts name the types the driver decodes each column of the select list to (int8: bigint, float8
  // and int4: number, text: string, jsonb: JSON value, timestamptz: Date).
  return (row: ReadonlyArray<unknown>): RecordedEvent => {
    const position = row[offset] as bigint
    const transactionId = row[offset + 1] as bigint
    if (transactionId !== tx) {
      tx = transactionId
      txPrefix = `${transactionId}.`
    }
    const text = row[offset + 7] as string
    if (text !== metadataText) {
      metadataText = text
      metadata = JSON.parse(text) as EventMetadata
    }
    return {
      streamId: stream ?? (row[offset + 9] as string),
      version: row[offset + 2] as number,
      position,
      transactionId,
      // `Checkpoint.make(transactionId, position)`, with the transaction id's part rendered once per run.
      checkpoint: (txPrefix + position) as Checkpoint.Checkpoint,
      eventId: row[offset + 3] as string,
      type: row[offset + 4] as string,
      schemaVersion: row[offset + 5] as number,
      data: row[offset + 6],
      metadata,
      recordedAt: row[offset + 8] as Date
    }
  }
}

/**
 * The events of rows of a statement that joins events to a header row (event columns from `offset`),
 * skipping the one row of a header without events (a LEFT JOIN that found none: its position is null).
 */
export const eventsOf = (rows: ReadonlyArray<ReadonlyArray<unknown>>, offset: number, stream?: string): Array<RecordedEvent> => {
  const decode = decoder(offset, stream)
  const events: Array<RecordedEvent> = []
  for (const row of rows) if (row[offset] !== null) events.push(decode(row))
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
