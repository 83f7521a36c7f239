/**
 * Stream lifecycle in the PostgreSQL store: soft delete, tombstone and truncation. Each checks its
 * expectation in the statement that changes the stream's row, records the operation in `stream_operations`
 * and drops the snapshots it invalidates, in one transaction. When nothing changed, the shared rules
 * (`StoreRules`) name the reason from the stream's current row.
 */
import { Effect } from "effect"
import type * as ExpectedVersion from "../ExpectedVersion.ts"
import * as StoreRules from "../StoreRules.ts"
import { mapSqlErrors } from "./SqlErrors.ts"
import { parseStream } from "./StreamReads.ts"
import { streamState, type Tables } from "./Tables.ts"

export const make = (tables: Tables) => {
  const { pg, sql } = tables
  const streamsTable = tables.streams
  const snapshotsTable = tables.snapshots
  const operationsTable = tables.operations

  const expectedCondition = (normalized: ExpectedVersion.Normalized) => {
    switch (normalized._tag) {
      case "Any":
        return sql.literal("true")
      case "NoStream":
        return sql.literal("(s.version = 0 OR s.deleted)")
      case "StreamExists":
        return sql.literal("(s.version > 0 AND NOT s.deleted)")
      case "Exact":
        return sql`(s.version = ${normalized.version} AND NOT s.deleted)`
    }
  }

  const recordOperation = (stream: string, operation: string, details: object) =>
    sql`INSERT INTO ${operationsTable} (stream_id, operation, details) VALUES (${stream}, ${operation}, ${pg.json(details)})`

  const deleteStream = Effect.fn("EventStore.deleteStream")(
    function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
      yield* parseStream(stream)
      const expectation = yield* Effect.fromResult(StoreRules.expectation(stream, expected ?? "any"))
      const done = yield* sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql<{ readonly version: bigint }>`
            UPDATE ${streamsTable} s SET deleted = true, truncate_before = s.version + 1, updated_at = now()
            WHERE s.stream_id = ${stream} AND NOT s.deleted AND NOT s.tombstoned AND ${expectedCondition(expectation)}
            RETURNING s.version`
        if (rows.length === 0) return false
        yield* recordOperation(stream, "deleted", { version: Number(rows[0]!.version) })
        yield* sql`DELETE FROM ${snapshotsTable} WHERE stream_id = ${stream}`
        return true
      }))
      if (done) return
      const state = yield* streamState(tables, stream)
      return yield* Effect.fail(StoreRules.deleteFailure(stream, state, expected))
    },
    mapSqlErrors("deleteStream")
  )

  const tombstoneStream = Effect.fn("EventStore.tombstoneStream")(
    function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
      const parsed = yield* parseStream(stream)
      const expectation = yield* Effect.fromResult(StoreRules.expectation(stream, expected ?? "any"))
      const absentAllowed = StoreRules.tombstoneOfUnusedAllowed(expectation)
      const done = yield* sql.withTransaction(Effect.gen(function*() {
        let rows = yield* sql<{ readonly version: bigint }>`
            UPDATE ${streamsTable} s SET tombstoned = true, updated_at = now()
            WHERE s.stream_id = ${stream} AND NOT s.tombstoned AND ${expectedCondition(expectation)}
            RETURNING s.version`
        if (rows.length === 0 && absentAllowed) {
          // Tombstoning a name that was never used reserves it forever.
          rows = yield* sql<{ readonly version: bigint }>`
              INSERT INTO ${streamsTable} (stream_id, category, version, tombstoned)
              VALUES (${stream}, ${parsed.category}, 0, true)
              ON CONFLICT (stream_id) DO NOTHING
              RETURNING version`
        }
        if (rows.length === 0) return false
        yield* recordOperation(stream, "tombstoned", { version: Number(rows[0]!.version) })
        yield* sql`DELETE FROM ${snapshotsTable} WHERE stream_id = ${stream}`
        return true
      }))
      if (done) return
      const state = yield* streamState(tables, stream)
      return yield* Effect.fail(StoreRules.tombstoneFailure(stream, state, expected))
    },
    mapSqlErrors("tombstoneStream")
  )

  const truncateStream = Effect.fn("EventStore.truncateStream")(
    function*(stream: string, beforeVersion: number) {
      yield* parseStream(stream)
      const before = StoreRules.truncationPoint(beforeVersion)
      const done = yield* sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql<{ readonly truncate_before: bigint; readonly changed: boolean }>`
            UPDATE ${streamsTable} s SET truncate_before = greatest(s.truncate_before, least(${before}, s.version + 1)),
              updated_at = now()
            WHERE s.stream_id = ${stream} AND NOT s.deleted AND NOT s.tombstoned
            RETURNING s.truncate_before`
        if (rows.length === 0) return false
        const truncateBefore = rows[0]!.truncate_before
        yield* recordOperation(stream, "truncated", { before: Number(truncateBefore) })
        // Snapshots taken under an earlier truncation fold events that are now hidden: drop them.
        yield* sql`DELETE FROM ${snapshotsTable} WHERE stream_id = ${stream} AND truncate_before <> ${truncateBefore}`
        return true
      }))
      if (done) return
      const state = yield* streamState(tables, stream)
      return yield* Effect.fail(StoreRules.truncateFailure(stream, state))
    },
    mapSqlErrors("truncateStream")
  )

  return { deleteStream, tombstoneStream, truncateStream }
}
