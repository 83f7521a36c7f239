/**
 * The PostgreSQL implementation of `EventStore` on `@effect/sql-pg`.
 *
 * - Append is ONE statement (one round trip, whatever the number of events): a compare-and-set on the
 *   stream's row in `streams` and the insert of all events, in data-modifying CTEs. The row lock taken by the
 *   compare-and-set serialises writers of one stream; writers of different streams never wait on each other.
 * - Every event records the id of its writing transaction (`xid8`). Readers of the global order only read
 *   events of transactions older than the oldest one still running (`pg_snapshot_xmin`), ordered by
 *   (transaction id, position): a transaction that commits late can never be skipped.
 * - Subscribers in this process are woken right after a commit; other processes get at most one NOTIFY
 *   per `notifyInterval`, sent after commit, carrying only the sender's instance id; polling is the safety
 *   net.
 */
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option, Result, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { SqlClient } from "effect/sql/SqlClient"
import * as Checkpoint from "../Checkpoint.ts"
import {
  DuplicateEventId,
  InvalidStreamName,
  StoreUnavailable,
  StreamNotFound,
  StreamTombstoned,
  WrongExpectedVersion
} from "../Errors.ts"
import type { InvalidEvent } from "../Errors.ts"
import type { AppendResult, EventMetadata, NewEvent, RecordedEvent, StreamInfo } from "../Events.ts"
import {
  EventStore,
  type AppendOptions,
  type HoldingTransaction,
  type Page,
  type ReadAllOptions,
  type ReadStreamOptions,
  type SnapshotRecord,
  type StreamWithSnapshot,
  type StreamWrite,
  type SubscribeOptions
} from "../EventStore.ts"
import * as EventId from "../EventId.ts"
import * as EventValidation from "../EventValidation.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import * as Migrations from "../Migrations.ts"
import * as StreamName from "../StreamName.ts"
import * as Wakeup from "../Wakeup.ts"
import { eventColumns, type EventRow, toRecordedEvent } from "./Rows.ts"
import * as Horizon from "./Horizon.ts"
import { listen } from "./Listener.ts"
import { constraintOf, mapSqlErrors } from "./SqlErrors.ts"

export interface PgEventStoreOptions {
  /** PostgreSQL schema holding the store's tables (default `verity`). */
  readonly schema?: string
  readonly limits?: Partial<EventValidation.Limits>
  /** LISTEN for other processes' commits and NOTIFY ours (default true). */
  readonly notifications?: boolean
  /** At most one NOTIFY per this interval (default 5 ms). */
  readonly notifyInterval?: Duration.Input
  /** Run the store's migrations when the layer starts (default true). */
  readonly migrate?: boolean
}

const DEFAULT_PAGE = 1_000
/** Longest wait between polls while committed events sit behind an open transaction. */
const PENDING_POLL_MAX = 100
const MAX_PAGE = 10_000

interface PageResult {
  readonly page: Page
  /** Committed events exist beyond the visibility horizon: an open transaction holds readers back. */
  readonly pending: boolean
}

interface Prepared {
  readonly stream: StreamName.ParsedStreamName
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly normalized: ExpectedVersion.Normalized
  readonly events: ReadonlyArray<EventValidation.PreparedEvent>
}

interface AppendedRow {
  readonly position: bigint
  readonly version: bigint
  readonly tx: bigint
}

/** An append whose compare-and-set did not match (or whose event ids exist): explained after the fact. */
class AppendRejected {
  readonly _tag = "AppendRejected"
  readonly write: Prepared
  constructor(write: Prepared) {
    this.write = write
  }
}

/** A failure of the caller's effect inside `transaction`, kept apart from the store's own SqlErrors. */
class CallerFailure<E> {
  readonly _tag = "CallerFailure"
  readonly error: E
  constructor(error: E) {
    this.error = error
  }
}

const clampPage = (limit: number | undefined) =>
  limit === undefined || !Number.isFinite(limit) ? DEFAULT_PAGE : Math.max(1, Math.min(MAX_PAGE, Math.floor(limit)))

export const make = (options: PgEventStoreOptions = {}) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const sql = pg.withoutTransforms()
    const schema = options.schema ?? "verity"
    if (!Migrations.SCHEMA_PATTERN.test(schema)) {
      return yield* Effect.die(new Error(`invalid event store schema name: ${schema}`))
    }
    const limits: EventValidation.Limits = { ...EventValidation.defaultLimits, ...options.limits }
    if (options.migrate !== false) {
      yield* Migrations.run(schema).pipe(Effect.provideService(SqlClient, sql))
    }
    const streamsTable = sql(`${schema}.streams`)
    const eventsTable = sql(`${schema}.events`)
    const snapshotsTable = sql(`${schema}.snapshots`)
    const operationsTable = sql(`${schema}.stream_operations`)
    const columns = eventColumns(sql)
    const horizonSql = Horizon.make(sql, schema)
    /** The newest order key committed: events wait behind the horizon when it is at or above it. */
    const newestKey = sql`(SELECT k.transaction_id FROM ${eventsTable} k ORDER BY k.transaction_id DESC LIMIT 1)`
    const channel = `${schema}_events`

    // --- wake-ups -----------------------------------------------------------------------------------------
    const committed = Wakeup.make()
    const notifyWanted = Wakeup.make()
    const notifications = options.notifications !== false
    const onCommit = notifications
      ? Effect.andThen(committed.signal, notifyWanted.signal)
      : committed.signal

    // Identifies this store instance in its notifications (the only payload: no event data is sent).
    const instance = EventId.make()
    if (notifications) {
      const notifyInterval = Duration.fromInputUnsafe(options.notifyInterval ?? "5 millis")
      // Throttles NOTIFY to one per interval, sent outside any transaction: the first commit notifies at
      // once; commits during the following interval share one NOTIFY at its end. The next ticket is taken
      // before notifying, so a commit that lands while we notify or sleep is never missed.
      yield* Effect.gen(function*() {
        let ticket = yield* notifyWanted.ticket
        while (true) {
          yield* ticket
          ticket = yield* notifyWanted.ticket
          yield* pg.notify(channel, instance).pipe(Effect.ignore)
          yield* Effect.sleep(notifyInterval)
        }
      }).pipe(Effect.forkScoped)
      // Other processes' commits wake our subscribers. After (re)connecting, wake them once too: commits
      // made while we were not listening are found by that read, not lost.
      yield* listen(pg, channel, {
        onListening: committed.signal,
        // Our own commits already woke our subscribers: ignore their echo.
        onNotification: (payload) => (payload === instance ? Effect.void : committed.signal)
      }).pipe(
        Effect.forkScoped
      )
    }

    // --- append ---------------------------------------------------------------------------------------------
    const prepareWrite = (
      stream: string,
      expected: ExpectedVersion.ExpectedVersion,
      events: ReadonlyArray<NewEvent>,
      metadata: EventMetadata | undefined
    ): Result.Result<Prepared, InvalidStreamName | InvalidEvent | DuplicateEventId> => {
      const parsed = StreamName.parse(stream)
      if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
      const normalized = ExpectedVersion.normalize(expected)
      if (normalized === undefined) {
        return Result.fail(new InvalidStreamName({ stream, reason: `invalid expected version ${String(expected)}` }))
      }
      const prepared = EventValidation.prepare(stream, events, metadata, limits)
      if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
      return Result.succeed({ stream: parsed.success, expected, normalized, events: prepared.success })
    }

    /**
     * The compare-and-set on the stream's row: it returns the stream's new version and the order key of the
     * new events, or no row when the expectation does not hold. The row lock it takes serialises writers of
     * one stream until commit. The key is the greatest of this transaction's id and the stream's previous
     * key, so a stream's versions keep their order in the global order (postgres/Horizon.ts). It goes
     * through the late-append guard first. (The append path writes only `version` and the key: `deleted`
     * only when reopening a deleted stream, no timestamps, so the update stays small and HOT.)
     */
    const streamCas = (write: Prepared) => {
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
    const appendStatement = (write: Prepared) => {
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

    const runAppend = (write: Prepared): Effect.Effect<AppendResult, AppendRejected | SqlError> =>
      appendStatement(write).pipe(
        Effect.flatMap((rows) => {
          if (rows.length === 0) return Effect.fail(new AppendRejected(write))
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
          (error): error is SqlError =>
            error._tag === "SqlError" && constraintOf(error) === "events_event_id_key",
          () => Effect.fail(new AppendRejected(write))
        )
      )

    /** When the events of `write` are already stored as one earlier append to its stream: that result. */
    const findEarlierAppend = (write: Prepared) =>
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
        if (rows.length === 0) return Option.none<AppendResult>()
        const byId = new Map(rows.map((row) => [row.event_id, row]))
        const ordered = ids.map((id) => byId.get(id))
        const first = ordered[0]
        const identical = first !== undefined &&
          ordered.every((row, i) =>
            row !== undefined && row.stream_id === write.stream.stream && row.version === first.version + BigInt(i)
          )
        if (!identical) {
          return yield* new DuplicateEventId({ stream: write.stream.stream, eventIds: rows.map((r) => r.event_id) })
        }
        const last = ordered[ordered.length - 1]!
        return Option.some<AppendResult>({
          streamId: write.stream.stream,
          version: Number(last.version),
          positions: ordered.map((row) => row!.position),
          checkpoint: Checkpoint.make(last.tx, last.position)
        })
      })

    const currentState = (stream: string) =>
      sql<{ readonly version: bigint; readonly deleted: boolean; readonly tombstoned: boolean }>`
        SELECT version, deleted, tombstoned FROM ${streamsTable} WHERE stream_id = ${stream}`.pipe(
        Effect.map((rows) => rows[0])
      )

    /** Why the compare-and-set of `write` did not match. */
    const rejection = (write: Prepared) =>
      Effect.gen(function*() {
        const state = yield* currentState(write.stream.stream)
        if (state?.tombstoned) return yield* new StreamTombstoned({ stream: write.stream.stream })
        const actual = state === undefined || state.deleted ? 0 : Number(state.version)
        return yield* new WrongExpectedVersion({ stream: write.stream.stream, expected: write.expected, actual })
      })

    const explain = (write: Prepared) =>
      findEarlierAppend(write).pipe(
        Effect.flatMap(Option.match({ onNone: () => rejection(write), onSome: Effect.succeed }))
      )

    const append = Effect.fn("EventStore.append")(
      function*(stream: string, expected: ExpectedVersion.ExpectedVersion, events: ReadonlyArray<NewEvent>, options?: AppendOptions) {
        const write = yield* Effect.fromResult(prepareWrite(stream, expected, events, options?.metadata))
        const result = yield* runAppend(write).pipe(
          Effect.catchTag("AppendRejected", (rejected) => explain(rejected.write))
        )
        yield* sql.afterCommit(onCommit)
        return result
      },
      mapSqlErrors("append")
    )

    const appendMany = Effect.fn("EventStore.appendMany")(
      function*(writes: ReadonlyArray<StreamWrite>, options?: AppendOptions) {
        const prepared: Array<Prepared> = []
        for (const write of writes) {
          prepared.push(yield* Effect.fromResult(prepareWrite(write.stream, write.expected, write.events, options?.metadata)))
        }
        if (prepared.length === 0) return []
        const repeated = EventValidation.repeatedIds(prepared.map((write) => write.events))
        if (repeated.length > 0) return yield* new DuplicateEventId({ stream: prepared[0]!.stream.stream, eventIds: repeated })
        // A fixed lock order (by stream name; stable, so two writes to one stream keep their order) keeps
        // concurrent multi-stream appends from deadlocking.
        const order = prepared.map((_, i) => i).sort((a, b) => {
          const x = prepared[a]!.stream.stream
          const y = prepared[b]!.stream.stream
          return x < y ? -1 : x > y ? 1 : a - b
        })
        const outcome = yield* sql.withTransaction(Effect.andThen(
          horizonSql.announce,
          Effect.forEach(order, (i) => Effect.map(runAppend(prepared[i]!), (result) => [i, result] as const))
        )).pipe(Effect.result)
        if (Result.isSuccess(outcome)) {
          yield* sql.afterCommit(onCommit)
          const results = new Array<AppendResult>(prepared.length)
          for (const [i, result] of outcome.success) results[i] = result
          return results
        }
        const failure = outcome.failure
        if (failure._tag !== "AppendRejected") return yield* Effect.fail(failure)
        // A retried multi-stream append is recognised when every write is already stored.
        const earlier = yield* Effect.forEach(prepared, findEarlierAppend)
        if (earlier.every(Option.isSome)) return earlier.map((result) => result.value)
        return yield* rejection(failure.write)
      },
      mapSqlErrors("appendMany")
    )

    // --- stream reads ---------------------------------------------------------------------------------------
    interface StreamHeader {
      readonly s_version: bigint | null
      readonly deleted: boolean | null
      readonly tombstoned: boolean | null
      readonly truncate_before: bigint | null
    }

    const parseStream = (stream: string) => Effect.fromResult(StreamName.parse(stream))

    const checkHeader = (stream: string, header: StreamHeader | undefined) => {
      if (header === undefined || header.s_version === null) return Effect.fail(new StreamNotFound({ stream }))
      if (header.tombstoned) return Effect.fail(new StreamTombstoned({ stream }))
      if (header.deleted) return Effect.fail(new StreamNotFound({ stream }))
      return Effect.void
    }

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
        const events: Array<RecordedEvent> = []
        for (const row of rows) if (row.position !== null) events.push(toRecordedEvent(row))
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
        const events: Array<RecordedEvent> = []
        for (const row of rows) if (row.position !== null) events.push(toRecordedEvent(row))
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

    // --- global order -----------------------------------------------------------------------------------------
    const readPage = (options: ReadAllOptions): Effect.Effect<PageResult, StoreUnavailable> =>
      Effect.gen(function*() {
        const from = options.from ?? Checkpoint.start
        const { position, transactionId } = Checkpoint.parts(from)
        const limit = clampPage(options.limit)
        const filters = [sql`e.transaction_id < h.horizon`]
        const categories = options.categories
        if (categories !== undefined) {
          filters.push(categories.length === 1 ? sql`e.category = ${categories[0]!}` : sql`e.category = ANY(${[...categories]}::text[])`)
        }
        if (options.types !== undefined) filters.push(sql`e.type = ANY(${[...options.types]}::text[])`)
        const rows = yield* sql<EventRow & { readonly horizon: bigint; readonly pending: boolean }>`
          WITH h AS MATERIALIZED (${horizonSql.row})
          SELECT h.horizon::text::int8 AS horizon, coalesce(${newestKey} >= h.horizon, false) AS pending, ev.*
          FROM h
          LEFT JOIN LATERAL (
            SELECT ${columns} FROM ${eventsTable} e
            WHERE (e.transaction_id, e.position) > (${transactionId.toString()}::xid8, ${position})
              AND ${sql.and(filters)}
            ORDER BY e.transaction_id, e.position
            LIMIT ${limit}
          ) ev ON true`
        const events: Array<RecordedEvent> = []
        for (const row of rows) if (row.position !== null) events.push(toRecordedEvent(row))
        const head = rows[0]!
        const full = events.length === limit
        const checkpoint = full
          ? events[events.length - 1]!.checkpoint
          : Checkpoint.max(from, Checkpoint.afterTransaction(head.horizon - 1n))
        return { page: { events, checkpoint, caughtUp: !full }, pending: head.pending }
      }).pipe(mapSqlErrors("readAll"))

    const readAll = (options: ReadAllOptions = {}) =>
      readPage(options).pipe(Effect.map((result) => result.page), Effect.withSpan("EventStore.readAll"))

    const streamAll = (options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, StoreUnavailable> =>
      Stream.paginate(options.from ?? Checkpoint.start, (from) =>
        Effect.map(readPage({ ...options, from }), ({ page }) =>
          [page.events, page.caughtUp ? Option.none() : Option.some(page.checkpoint)] as const))

    interface Follow {
      readonly from: Checkpoint.Checkpoint
      readonly waitFirst: boolean
      readonly pendingDelay: number
      readonly ticket: Effect.Effect<void> | undefined
    }

    const subscribe = (options: SubscribeOptions = {}): Stream.Stream<Page, StoreUnavailable> => {
      const pollMillis = Duration.toMillis(Duration.fromInputUnsafe(options.pollInterval ?? 500))
      return Stream.paginate<Follow, Page, StoreUnavailable>(
        { from: options.from ?? Checkpoint.start, waitFirst: false, pendingDelay: 0, ticket: undefined },
        (state) =>
          Effect.gen(function*() {
            if (state.waitFirst && state.ticket !== undefined) {
              // Caught up: sleep until a commit wakes us, or poll. When committed events wait behind an open
              // transaction, poll again soon (backing off) since its end sends no wake-up of its own.
              const wait = state.pendingDelay > 0 ? Math.min(state.pendingDelay, PENDING_POLL_MAX, pollMillis) : pollMillis
              yield* Effect.timeoutOption(state.ticket, Duration.millis(wait))
            }
            const ticket = yield* committed.ticket
            const { page, pending } = yield* readPage({ ...options, from: state.from })
            const moved = page.events.length > 0 || page.checkpoint !== state.from
            const next: Follow = {
              from: page.checkpoint,
              waitFirst: page.caughtUp,
              pendingDelay: pending && page.caughtUp ? Math.max(1, state.pendingDelay * 2) : 0,
              ticket
            }
            return [moved ? [page] : [], Option.some(next)] as const
          })
      )
    }

    const horizon = Effect.gen(function*() {
      const rows = yield* sql<{ readonly horizon: bigint; readonly position: bigint | null }>`
        WITH h AS MATERIALIZED (${horizonSql.row})
        SELECT h.horizon::text::int8 AS horizon,
          (SELECT e.position FROM ${eventsTable} e WHERE e.transaction_id < h.horizon ORDER BY e.position DESC LIMIT 1) AS position
        FROM h`
      const row = rows[0]!
      return { checkpoint: Checkpoint.afterTransaction(row.horizon - 1n), position: row.position ?? 0n }
    }).pipe(mapSqlErrors("horizon"), Effect.withSpan("EventStore.horizon"))

    const checkpointOf = (position: bigint) =>
      sql<{ readonly tx: bigint }>`SELECT transaction_id::text::int8 AS tx FROM ${eventsTable} WHERE position = ${position}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), (row) => Checkpoint.make(row.tx, position))),
        mapSqlErrors("checkpointOf")
      )

    const backlog = (options: ReadAllOptions & { readonly max?: number }) =>
      Effect.gen(function*() {
        const { position, transactionId } = Checkpoint.parts(options.from ?? Checkpoint.start)
        const max = Math.max(1, Math.floor(options.max ?? 1_000_000))
        const filters = [sql`e.transaction_id < h.horizon`]
        if (options.categories !== undefined) filters.push(sql`e.category = ANY(${[...options.categories]}::text[])`)
        if (options.types !== undefined) filters.push(sql`e.type = ANY(${[...options.types]}::text[])`)
        const after = sql`(e.transaction_id, e.position) > (${transactionId.toString()}::xid8, ${position})`
        const rows = yield* sql<{
          readonly n: bigint
          readonly oldest: Date | null
          readonly pending: boolean
          readonly horizon: bigint
          readonly pid: number | null
          readonly application_name: string | null
          readonly state: string | null
          readonly xact_start: Date | null
        }>`
          WITH h AS MATERIALIZED (${horizonSql.row})
          SELECT
            (SELECT count(*) FROM (SELECT 1 FROM ${eventsTable} e WHERE ${after} AND ${sql.and(filters)} LIMIT ${max}) c) AS n,
            (SELECT e.recorded_at FROM ${eventsTable} e WHERE ${after} AND ${sql.and(filters)}
              ORDER BY e.transaction_id, e.position LIMIT 1) AS oldest,
            coalesce(${newestKey} >= h.horizon, false) AS pending,
            h.horizon::text::int8 AS horizon,
            b.pid, b.application_name, b.state, b.xact_start
          FROM h LEFT JOIN LATERAL (${horizonSql.holder(sql`h.horizon`)}) b ON true`
        const row = rows[0]!
        // Only a transaction that holds committed events back is worth naming.
        const heldBackBy = row.pending && row.pid !== null
          ? Option.some<HoldingTransaction>({
            transactionId: row.horizon,
            pid: row.pid,
            applicationName: row.application_name ?? "",
            state: row.state ?? "",
            startedAt: Option.fromNullishOr(row.xact_start)
          })
          : Option.none<HoldingTransaction>()
        return {
          events: Number(row.n),
          capped: Number(row.n) >= max,
          oldestRecordedAt: Option.fromNullishOr(row.oldest),
          heldBackBy
        }
      }).pipe(mapSqlErrors("backlog"), Effect.withSpan("EventStore.backlog"))

    // --- transactions -----------------------------------------------------------------------------------------
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreUnavailable, R> =>
      sql.withTransaction(
        Effect.andThen(horizonSql.announce, Effect.mapError(effect, (error) => new CallerFailure(error)))
      ).pipe(
        // Only the store's own statements (announce, begin, commit) become StoreUnavailable: the caller's
        // errors, SqlErrors included, come back to it unchanged.
        mapSqlErrors("transaction"),
        Effect.catchIf(
          (error): error is CallerFailure<E> => error instanceof CallerFailure,
          (boxed) => Effect.fail(boxed.error)
        ),
        Effect.withSpan("EventStore.transaction")
      )

    // --- lifecycle --------------------------------------------------------------------------------------------
    const expectedCondition = (expected: ExpectedVersion.ExpectedVersion | undefined) => {
      const normalized = ExpectedVersion.normalize(expected ?? "any")
      switch (normalized?._tag) {
        case undefined:
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

    const lifecycleFailure = (stream: string, expected: ExpectedVersion.ExpectedVersion | undefined) =>
      Effect.gen(function*() {
        const state = yield* currentState(stream)
        if (state === undefined) return yield* new StreamNotFound({ stream })
        if (state.tombstoned) return yield* new StreamTombstoned({ stream })
        if (state.deleted && (expected === undefined || expected === "any")) return yield* new StreamNotFound({ stream })
        return yield* new WrongExpectedVersion({
          stream,
          expected: expected ?? "any",
          actual: state.deleted ? 0 : Number(state.version)
        })
      })

    const deleteStream = Effect.fn("EventStore.deleteStream")(
      function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
        yield* parseStream(stream)
        const done = yield* sql.withTransaction(Effect.gen(function*() {
          const rows = yield* sql<{ readonly version: bigint }>`
            UPDATE ${streamsTable} s SET deleted = true, truncate_before = s.version + 1, updated_at = now()
            WHERE s.stream_id = ${stream} AND NOT s.deleted AND NOT s.tombstoned AND ${expectedCondition(expected)}
            RETURNING s.version`
          if (rows.length === 0) return false
          yield* recordOperation(stream, "deleted", { version: Number(rows[0]!.version) })
          yield* sql`DELETE FROM ${snapshotsTable} WHERE stream_id = ${stream}`
          return true
        }))
        if (!done) return yield* lifecycleFailure(stream, expected)
      },
      mapSqlErrors("deleteStream")
    )

    const tombstoneStream = Effect.fn("EventStore.tombstoneStream")(
      function*(stream: string, expected?: ExpectedVersion.ExpectedVersion) {
        const parsed = yield* parseStream(stream)
        const expectation = ExpectedVersion.normalize(expected ?? "any")?._tag
        const absentAllowed = expectation === "Any" || expectation === "NoStream"
        const done = yield* sql.withTransaction(Effect.gen(function*() {
          let rows = yield* sql<{ readonly version: bigint }>`
            UPDATE ${streamsTable} s SET tombstoned = true, updated_at = now()
            WHERE s.stream_id = ${stream} AND NOT s.tombstoned AND ${expectedCondition(expected)}
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
        const state = yield* currentState(stream)
        if (state?.tombstoned) return yield* new StreamTombstoned({ stream })
        return yield* new WrongExpectedVersion({
          stream,
          expected: expected ?? "any",
          actual: state === undefined || state.deleted ? 0 : Number(state.version)
        })
      },
      mapSqlErrors("tombstoneStream")
    )

    const truncateStream = Effect.fn("EventStore.truncateStream")(
      function*(stream: string, beforeVersion: number) {
        yield* parseStream(stream)
        const before = Math.max(1, Math.floor(beforeVersion))
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
        const state = yield* currentState(stream)
        if (state?.tombstoned) return yield* new StreamTombstoned({ stream })
        return yield* new StreamNotFound({ stream })
      },
      mapSqlErrors("truncateStream")
    )

    // --- snapshots --------------------------------------------------------------------------------------------
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

    // Only a transaction of this client holds a connection for the fiber; its appends join it.
    const lockInTransaction = Effect.fn("EventStore.lockStream")(
      function*(stream: string) {
        // The row lock gives the transaction an id: announce it as an appender first (postgres/Horizon.ts),
        // as its append would. A stream without a row yet has nothing to lock: its first append's insert
        // serialises creators.
        yield* horizonSql.announce
        yield* sql`SELECT 1 FROM ${streamsTable} WHERE stream_id = ${stream} FOR UPDATE`
        return true
      },
      mapSqlErrors("lockStream")
    )
    // Outside a transaction (every command of the hot path) this is only a look at the fiber's context.
    const lockStream = (stream: string) =>
      Effect.flatMap(parseStream(stream), () =>
        Effect.flatMap(
          Effect.serviceOption(sql.transactionService),
          (transaction) => Option.isSome(transaction) ? lockInTransaction(stream) : Effect.succeed(false)
        ))

    return EventStore.of({
      append,
      appendMany,
      readStream,
      readStreamWithSnapshot,
      streamInfo,
      readAll,
      streamAll,
      subscribe,
      horizon,
      backlog,
      checkpointOf,
      transaction,
      deleteStream,
      tombstoneStream,
      truncateStream,
      saveSnapshot,
      deleteSnapshots,
      lockStream
    })
  })

/** The store on the `PgClient` in context. Runs migrations on start unless `migrate: false`. */
export const layer = (options: PgEventStoreOptions = {}) => Layer.effect(EventStore, make(options))
