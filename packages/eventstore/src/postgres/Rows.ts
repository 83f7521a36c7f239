/**
 * Row shapes returned by the store's statements and their conversion to `RecordedEvent`. Column aliases
 * are fixed here so every statement selects events the same way.
 */
import type { SqlClient } from "effect/sql/SqlClient"
import * as Checkpoint from "../Checkpoint.ts"
import type { EventMetadata, RecordedEvent } from "../Events.ts"

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

/** The select list for an `events` row aliased `e`, matching `EventRow`. */
export const eventColumns = (sql: SqlClient) =>
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
