/**
 * Appends to the PostgreSQL store. An append is ONE statement (one round trip, whatever the number of
 * events): a compare-and-set on the stream's row in `streams` and the insert of all events, in
 * data-modifying CTEs. The row lock taken by the compare-and-set serialises writers of one stream; writers of
 * different streams never wait on each other. A refused append is explained after the fact, by the shared
 * rules (`StoreRules`): an identical retry gets its original result, anything else a typed refusal.
 * Outside a caller's transaction, appends go through group commit (`GroupCommit`): concurrent ones share one
 * statement and one transaction, each still checked, answered and explained on its own. `appendMany` is
 * not grouped: it is all or nothing, and a group is not.
 */
import { Effect, Option, Result, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import * as Checkpoint from "../Checkpoint.ts"
import type { AppendResult, NewEvent } from "../Events.ts"
import type { AppendOptions, StreamWrite } from "../EventStore.ts"
import type * as EventValidation from "../EventValidation.ts"
import type * as ExpectedVersion from "../ExpectedVersion.ts"
import * as StoreRules from "../StoreRules.ts"
import type { WritePlan } from "../StoreRules.ts"
import * as GroupCommit from "./GroupCommit.ts"
import * as GroupStatement from "./GroupStatement.ts"
import { constraintOf, mapSqlErrors } from "./SqlErrors.ts"
import { streamState, type Tables } from "./Tables.ts"

interface AppendedRow {
  readonly position: bigint
  readonly version: bigint
  readonly tx: bigint
}

/**
 * The compare-and-set of the `index`-th write did not match (or its event ids exist). Never leaves this
 * module: it rolls back a multi-stream append, and is then explained.
 */
class AppendRejected extends Schema.TaggedError<AppendRejected>()("AppendRejected", { index: Schema.Int }) {}

export const make = (
  tables: Tables,
  limits: EventValidation.Limits,
  onCommit: Effect.Effect<void>,
  /** Group commit of concurrent appends (`GroupCommit.ts`); `false` appends each alone. */
  groupCommit: GroupCommit.GroupCommitOptions | false = {}
) => {
  const { sql } = tables
  const streamsTable = tables.streams
  const eventsTable = tables.events
  const horizonSql = tables.horizon

  /**
   * The compare-and-set on the stream's row: it returns the stream's new version and the order key of the
   * new events, or no row when the expectation does not hold. The row lock it takes serialises writers of
   * one stream until commit. The key is the greatest of this transaction's id and the stream's previous
   * key, so a stream's versions keep their order in the global order (postgres/Horizon.ts). It goes
   * through the late-append guard first. (The append path writes only `version` and the key: `deleted`
   * only when reopening a deleted stream, no timestamps, so the update stays small and HOT.)
   */
  const streamCas = (write: WritePlan) => {
    const { category, stream } = write.stream
    const count = write.events.length
    switch (write.normalized._tag) {
      case "Any":
        return sql`INSERT INTO ${streamsTable} AS s (stream_id, category, version, last_transaction_id)
            SELECT ${stream}, ${category}, ${count}, pg_current_xact_id() FROM (${horizonSql.guard}) g WHERE g.ok
            ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version, deleted = false,
              last_transaction_id = greatest(s.last_transaction_id, excluded.last_transaction_id)
            WHERE NOT s.tombstoned
            RETURNING s.version, s.last_transaction_id AS key`
      case "NoStream":
        return sql`INSERT INTO ${streamsTable} AS s (stream_id, category, version, last_transaction_id)
            SELECT ${stream}, ${category}, ${count}, pg_current_xact_id() FROM (${horizonSql.guard}) g WHERE g.ok
            ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version, deleted = false,
              last_transaction_id = greatest(s.last_transaction_id, excluded.last_transaction_id)
            WHERE s.deleted AND NOT s.tombstoned
            RETURNING s.version, s.last_transaction_id AS key`
      case "StreamExists":
        return sql`UPDATE ${streamsTable} AS s SET version = s.version + ${count},
              last_transaction_id = greatest(s.last_transaction_id, pg_current_xact_id())
            FROM (${horizonSql.guard}) g
            WHERE g.ok AND s.stream_id = ${stream} AND NOT s.deleted AND NOT s.tombstoned
            RETURNING s.version, s.last_transaction_id AS key`
      case "Exact":
        return sql`UPDATE ${streamsTable} AS s SET version = s.version + ${count},
              last_transaction_id = greatest(s.last_transaction_id, pg_current_xact_id())
            FROM (${horizonSql.guard}) g
            WHERE g.ok AND s.stream_id = ${stream} AND s.version = ${write.normalized.version} AND NOT s.deleted AND NOT s.tombstoned
            RETURNING s.version, s.last_transaction_id AS key`
    }
  }

  /**
   * The single append statement: the compare-and-set and the insert of every event, returning one row
   * per event (none when the compare-and-set did not match). A single event binds scalars; several are
   * bound as arrays and expanded with `unnest`.
   */
  const appendStatement = (write: WritePlan) => {
    const events = write.events
    const { category, stream } = write.stream
    if (events.length === 1) {
      const event = events[0]!
      return sql<AppendedRow>`
          WITH stream AS (${streamCas(write)})
          INSERT INTO ${eventsTable} (transaction_id, stream_id, category, version, event_id, type, schema_version, data, metadata)
          SELECT stream.key, ${stream}, ${category}, stream.version, ${event.eventId}::uuid, ${event.type}, ${event.schemaVersion},
            ${event.data}::jsonb, ${event.metadata}::jsonb
          FROM stream
          RETURNING position, version, transaction_id::text::int8 AS tx`
    }
    const ids = new Array<string>(events.length)
    const types = new Array<string>(events.length)
    const versions = new Array<number>(events.length)
    const data = new Array<string>(events.length)
    const metadata = new Array<string>(events.length)
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      ids[i] = event.eventId
      types[i] = event.type
      versions[i] = event.schemaVersion
      data[i] = event.data
      metadata[i] = event.metadata
    }
    return sql<AppendedRow>`
        WITH stream AS (${streamCas(write)})
        INSERT INTO ${eventsTable} (transaction_id, stream_id, category, version, event_id, type, schema_version, data, metadata)
        SELECT stream.key, ${stream}, ${category}, stream.version - ${events.length} + e.n, e.event_id, e.type, e.schema_version, e.data, e.metadata
        FROM stream CROSS JOIN unnest(${ids}::uuid[], ${types}::text[], ${versions}::int4[], ${data}::jsonb[], ${metadata}::jsonb[])
          WITH ORDINALITY AS e(event_id, type, schema_version, data, metadata, n)
        RETURNING position, version, transaction_id::text::int8 AS tx`
  }

  const runAppend = (write: WritePlan, index: number): Effect.Effect<AppendResult, AppendRejected | SqlError> =>
    appendStatement(write).pipe(
      Effect.flatMap((rows) => {
        if (rows.length === 0) return Effect.fail(new AppendRejected({ index }))
        // Rows come back in insertion order, which is version order; sort defensively all the same.
        const ordered = rows.length === 1 ? rows : [...rows].sort((a, b) => (a.version < b.version ? -1 : 1))
        const last = ordered[ordered.length - 1]!
        return Effect.succeed<AppendResult>({
          streamId: write.stream.stream,
          version: Number(last.version),
          positions: ordered.map((row) => row.position),
          checkpoint: Checkpoint.make(last.tx, last.position)
        })
      }),
      Effect.catchIf(
        (error): error is SqlError => error._tag === "SqlError" && constraintOf(error) === "events_event_id_key",
        () => Effect.fail(new AppendRejected({ index }))
      )
    )

  /** When the events of `write` are already stored as one earlier append to its stream: that result. */
  const findEarlierAppend = (write: WritePlan) =>
    Effect.gen(function*() {
      const ids = write.events.map((e) => e.eventId)
      const rows = yield* sql<{
        readonly event_id: string
        readonly stream_id: string
        readonly version: bigint
        readonly position: bigint
        readonly tx: bigint
      }>`SELECT event_id::text AS event_id, stream_id, version, position, transaction_id::text::int8 AS tx
           FROM ${eventsTable} WHERE event_id = ANY(${ids}::uuid[])`
      const byId = new Map(rows.map((row) => [row.event_id, row]))
      const found = ids.map((id) => {
        const row = byId.get(id)
        return row === undefined ? undefined : {
          streamId: row.stream_id,
          version: Number(row.version),
          position: row.position,
          checkpoint: Checkpoint.make(row.tx, row.position)
        }
      })
      return yield* Effect.fromResult(StoreRules.earlierAppend(write, found))
    })

  /** Why the compare-and-set of `write` did not match. */
  const rejection = (write: WritePlan) =>
    Effect.flatMap(streamState(tables, write.stream.stream), (state) => Effect.fail(StoreRules.rejection(write, state)))

  const explain = (write: WritePlan) =>
    findEarlierAppend(write).pipe(
      Effect.flatMap(Option.match({ onNone: () => rejection(write), onSome: Effect.succeed }))
    )

  const single = (write: WritePlan) => runAppend(write, 0)
  const group = groupCommit === false ? undefined : GroupCommit.make({
    config: groupCommit,
    single,
    group: GroupStatement.make(tables),
    rejected: () => new AppendRejected({ index: 0 })
  })
  // An append inside a caller's transaction runs in it, on its connection, as before: it never joins a
  // group (the group's transaction is not the caller's).
  const inTransaction = Effect.map(Effect.serviceOption(sql.transactionService), Option.isSome)
  const appendOnce = group === undefined
    ? single
    : (write: WritePlan) => Effect.flatMap(inTransaction, (joined) => (joined ? single(write) : group.append(write)))

  const append = Effect.fn("EventStore.append")(
    function*(stream: string, expected: ExpectedVersion.ExpectedVersion, events: ReadonlyArray<NewEvent>, options?: AppendOptions) {
      const write = yield* Effect.fromResult(StoreRules.plan(stream, expected, events, options?.metadata, limits))
      const result = yield* appendOnce(write).pipe(
        Effect.catchTag("AppendRejected", () => explain(write))
      )
      yield* sql.afterCommit(onCommit)
      return result
    },
    mapSqlErrors("append")
  )

  const appendMany = Effect.fn("EventStore.appendMany")(
    function*(writes: ReadonlyArray<StreamWrite>, options?: AppendOptions) {
      const prepared = yield* Effect.fromResult(StoreRules.planAll(writes, options?.metadata, limits))
      if (prepared.length === 0) return []
      // A fixed lock order (by stream name; stable, so two writes to one stream keep their order) keeps
      // concurrent multi-stream appends from deadlocking.
      const order = prepared.map((_, i) => i).sort((a, b) => {
        const x = prepared[a]!.stream.stream
        const y = prepared[b]!.stream.stream
        return x < y ? -1 : x > y ? 1 : a - b
      })
      const outcome = yield* sql.withTransaction(Effect.andThen(
        horizonSql.announce,
        Effect.forEach(order, (i) => Effect.map(runAppend(prepared[i]!, i), (result) => [i, result] as const))
      )).pipe(Effect.result)
      if (Result.isSuccess(outcome)) {
        const results = new Array<AppendResult>(prepared.length)
        for (const [i, result] of outcome.success) results[i] = result
        return results
      }
      const failure = outcome.failure
      if (failure._tag !== "AppendRejected") return yield* Effect.fail(failure)
      // A retried multi-stream append is recognised when every write is already stored.
      const earlier = yield* Effect.forEach(prepared, findEarlierAppend)
      if (earlier.every(Option.isSome)) return earlier.map((result) => result.value)
      return yield* rejection(prepared[failure.index]!)
    },
    mapSqlErrors("appendMany")
  )

  return { append, appendMany }
}
