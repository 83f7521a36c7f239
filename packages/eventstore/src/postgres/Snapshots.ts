/**
 * Snapshots in the PostgreSQL store: a cache of folded state per stream and key. A snapshot is stored with
 * the truncation it was folded under, only if the stream really reached its version, and never replaces a
 * newer one; reads (`StreamReads`) use it only under the same truncation.
 */
import { Effect } from "effect"
import type { SnapshotRecord } from "../EventStore.ts"
import { mapSqlErrors } from "./SqlErrors.ts"
import { parseStream } from "./StreamReads.ts"
import type { Tables } from "./Tables.ts"

export const make = (tables: Tables) => {
  const { pg, sql } = tables
  const streamsTable = tables.streams
  const snapshotsTable = tables.snapshots

  const saveSnapshot = Effect.fn("EventStore.saveSnapshot")(
    function*(snapshot: SnapshotRecord) {
      yield* parseStream(snapshot.streamId)
      // Stored with the truncation it was folded under, and only if the stream really reached its version.
      yield* sql`
          INSERT INTO ${snapshotsTable} (stream_id, snapshot_key, stream_version, truncate_before, state)
          SELECT s.stream_id, ${snapshot.key}, ${snapshot.version}, s.truncate_before, ${pg.json(snapshot.state)}
          FROM ${streamsTable} s
          WHERE s.stream_id = ${snapshot.streamId} AND s.version >= ${snapshot.version} AND NOT s.tombstoned AND NOT s.deleted
          ON CONFLICT (stream_id, snapshot_key) DO UPDATE SET
            stream_version = excluded.stream_version, truncate_before = excluded.truncate_before,
            state = excluded.state, created_at = now()
          WHERE ${snapshotsTable}.stream_version < excluded.stream_version
            OR ${snapshotsTable}.truncate_before <> excluded.truncate_before`
    },
    mapSqlErrors("saveSnapshot")
  )

  const deleteSnapshots = Effect.fn("EventStore.deleteSnapshots")(
    function*(stream: string) {
      yield* parseStream(stream)
      yield* sql`DELETE FROM ${snapshotsTable} WHERE stream_id = ${stream}`
    },
    mapSqlErrors("deleteSnapshots")
  )

  return { saveSnapshot, deleteSnapshots }
}
