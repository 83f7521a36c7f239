/**
 * Reads of one stream from the PostgreSQL store: its events (with time travel), its events after its latest
 * usable snapshot, and its header. Each is one statement that reads the stream's row with its events, so a
 * read never sees a header and events of different moments; the row decides (by the shared rules) whether
 * the stream can be read at all.
 */
import { Effect, Option } from "effect"
import type { StreamInfo } from "../Events.ts"
import type { ReadStreamOptions, SnapshotRecord, StreamWithSnapshot } from "../EventStore.ts"
import * as StoreRules from "../StoreRules.ts"
import * as StreamName from "../StreamName.ts"
import { mapSqlErrors } from "./SqlErrors.ts"
import { type EventRow, eventsOf, type Tables } from "./Tables.ts"

interface StreamHeader {
  readonly s_version: bigint | null
  readonly deleted: boolean | null
  readonly tombstoned: boolean | null
  readonly truncate_before: bigint | null
}

export const parseStream = (stream: string) => Effect.fromResult(StreamName.parse(stream))

/** Fails unless the header row (absent, or all null when the stream has no row) is of a readable stream. */
const checkHeader = (stream: string, header: StreamHeader | undefined) => {
  const state = header === undefined || header.s_version === null
    ? undefined
    : { version: Number(header.s_version), deleted: header.deleted === true, tombstoned: header.tombstoned === true }
  const failure = StoreRules.readFailure(stream, state)
  return failure === undefined ? Effect.void : Effect.fail(failure)
}

export const make = (tables: Tables) => {
  const { sql } = tables
  const streamsTable = tables.streams
  const eventsTable = tables.events
  const snapshotsTable = tables.snapshots
  const columns = tables.columns

  const readStream = Effect.fn("EventStore.readStream")(
    function*(stream: string, options: ReadStreamOptions = {}) {
      yield* parseStream(stream)
      const backwards = options.direction === "backwards"
      const limit = options.maxCount === undefined
        ? sql.literal("ALL")
        : sql`${Math.max(0, Math.floor(Math.min(options.maxCount, Number.MAX_SAFE_INTEGER)))}`
      const from = options.fromVersion === undefined ? undefined : Math.floor(options.fromVersion)
      const conditions = [
        backwards
          ? sql`e.version <= ${from ?? Number.MAX_SAFE_INTEGER} AND e.version >= s.truncate_before`
          : sql`e.version >= greatest(${from ?? 1}, s.truncate_before)`
      ]
      if (options.toVersion !== undefined) conditions.push(sql`e.version <= ${Math.floor(options.toVersion)}`)
      // Instants have millisecond precision, recorded_at microseconds: "at or before" the millisecond.
      if (options.asOf !== undefined) {
        conditions.push(sql`e.recorded_at < ${options.asOf}::timestamptz + interval '1 millisecond'`)
      }
      const rows = yield* sql<StreamHeader & EventRow>`
          SELECT s.version AS s_version, s.deleted, s.tombstoned, s.truncate_before, ev.*
          FROM ${streamsTable} s
          LEFT JOIN LATERAL (
            SELECT ${columns} FROM ${eventsTable} e
            WHERE e.stream_id = s.stream_id AND ${sql.and(conditions)}
            ORDER BY e.version ${sql.literal(backwards ? "DESC" : "ASC")}
            LIMIT ${limit}
          ) ev ON true
          WHERE s.stream_id = ${stream}`
      yield* checkHeader(stream, rows[0])
      const events = eventsOf(rows)
      return events
    },
    mapSqlErrors("readStream")
  )

  const readStreamWithSnapshot = Effect.fn("EventStore.readStreamWithSnapshot")(
    function*(stream: string, snapshotKey: string) {
      yield* parseStream(stream)
      // Events are gapless, so the first tail event has version `start + 1`: only that row (or the single
      // row of an empty tail) carries the snapshot state, instead of repeating it on every row.
      const rows = yield* sql<StreamHeader & EventRow & { readonly sn_version: bigint | null; readonly sn_state: unknown }>`
          SELECT s.version AS s_version, s.deleted, s.tombstoned, s.truncate_before,
            sn.stream_version AS sn_version,
            CASE WHEN ev.version IS NULL
              OR ev.version = greatest(coalesce(sn.stream_version, 0), s.truncate_before - 1) + 1
              THEN sn.state END AS sn_state,
            ev.*
          FROM ${streamsTable} s
          LEFT JOIN ${snapshotsTable} sn ON sn.stream_id = s.stream_id AND sn.snapshot_key = ${snapshotKey}
            AND sn.truncate_before = s.truncate_before AND sn.stream_version <= s.version
          LEFT JOIN LATERAL (
            SELECT ${columns} FROM ${eventsTable} e
            WHERE e.stream_id = s.stream_id
              AND e.version > greatest(coalesce(sn.stream_version, 0), s.truncate_before - 1)
            ORDER BY e.version
          ) ev ON true
          WHERE s.stream_id = ${stream}`
      const header = rows[0]
      yield* checkHeader(stream, header)
      const events = eventsOf(rows)
      const snapshot = header!.sn_version === null
        ? Option.none<SnapshotRecord>()
        : Option.some<SnapshotRecord>({
          streamId: stream,
          key: snapshotKey,
          version: Number(header!.sn_version),
          state: header!.sn_state
        })
      return { snapshot, events, version: Number(header!.s_version) } satisfies StreamWithSnapshot
    },
    mapSqlErrors("readStreamWithSnapshot")
  )

  const streamInfo = Effect.fn("EventStore.streamInfo")(
    function*(stream: string) {
      yield* parseStream(stream)
      const rows = yield* sql<{
        readonly version: bigint
        readonly deleted: boolean
        readonly tombstoned: boolean
        readonly truncate_before: bigint
        readonly created_at: Date
        readonly updated_at: Date
      }>`SELECT s.version, s.deleted, s.tombstoned, s.truncate_before, s.created_at,
             greatest(s.updated_at, (SELECT e.recorded_at FROM ${eventsTable} e
               WHERE e.stream_id = s.stream_id ORDER BY e.version DESC LIMIT 1)) AS updated_at
           FROM ${streamsTable} s WHERE s.stream_id = ${stream}`
      const row = rows[0]
      if (row === undefined) return Option.none<StreamInfo>()
      return Option.some<StreamInfo>({
        streamId: stream,
        version: Number(row.version),
        state: row.tombstoned ? "tombstoned" : row.deleted ? "deleted" : "active",
        truncateBefore: Number(row.truncate_before),
        createdAt: row.created_at,
        updatedAt: row.updated_at
      })
    },
    mapSqlErrors("streamInfo")
  )

  return { readStream, readStreamWithSnapshot, streamInfo }
}
