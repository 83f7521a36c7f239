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
import { eventsOf, type Tables } from "./Tables.ts"

/**
 * The stream's columns every row of a read starts with (rows are read as arrays: `.values`), then the
 * events' (`Tables.streamColumns`, from `HEADER` on). The version is a float8: a number straight away.
 */
const HEADER = 3
const header = "s.version::float8 AS s_version, s.deleted, s.tombstoned"

export const parseStream = (stream: string) => Effect.fromResult(StreamName.parse(stream))

/** Fails unless the first row (absent when the stream has no row) is of a readable stream. */
const checkHeader = (stream: string, row: ReadonlyArray<unknown> | undefined) => {
  // The header columns: s_version float8 (a number), deleted and tombstoned booleans.
  const state = row === undefined
    ? undefined
    : { version: row[0] as number, deleted: row[1] === true, tombstoned: row[2] === true }
  const failure = StoreRules.readFailure(stream, state)
  return failure === undefined ? Effect.void : Effect.fail(failure)
}

export const make = (tables: Tables) => {
  const { sql } = tables
  const streamsTable = tables.streams
  const eventsTable = tables.events
  const snapshotsTable = tables.snapshots
  const columns = tables.streamColumns

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
      const rows = yield* sql`
          SELECT ${sql.literal(header)}, ev.*
          FROM ${streamsTable} s
          LEFT JOIN LATERAL (
            SELECT ${columns} FROM ${eventsTable} e
            WHERE e.stream_id = s.stream_id AND ${sql.and(conditions)}
            ORDER BY e.version ${sql.literal(backwards ? "DESC" : "ASC")}
            LIMIT ${limit}
          ) ev ON true
          WHERE s.stream_id = ${stream}`.values
      yield* checkHeader(stream, rows[0])
      return eventsOf(rows, HEADER, stream)
    },
    mapSqlErrors("readStream")
  )

  const readStreamWithSnapshot = Effect.fn("EventStore.readStreamWithSnapshot")(
    function*(stream: string, snapshotKey: string) {
      yield* parseStream(stream)
      // Events are gapless, so the first tail event has version `start + 1`: only that row (or the single
      // row of an empty tail) carries the snapshot state, instead of repeating it on every row.
      const rows = yield* sql`
          SELECT ${sql.literal(header)}, sn.stream_version::float8 AS sn_version,
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
          WHERE s.stream_id = ${stream}`.values
      const first = rows[0]
      yield* checkHeader(stream, first)
      // After the header: sn_version (float8, null without a snapshot) and sn_state (its JSON).
      const snapshotVersion = first![HEADER] as number | null
      const snapshot = snapshotVersion === null
        ? Option.none<SnapshotRecord>()
        : Option.some<SnapshotRecord>({ streamId: stream, key: snapshotKey, version: snapshotVersion, state: first![HEADER + 1] })
      const events = eventsOf(rows, HEADER + 2, stream)
      return { snapshot, events, version: first![0] as number } satisfies StreamWithSnapshot
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
