/**
 * Reads of the global order from the PostgreSQL store: pages, streams of pages, live subscriptions, the
 * horizon and a reader's backlog. Readers only read events of transactions older than the oldest one still
 * running (`postgres/Horizon.ts`), ordered by (transaction id, position): a transaction that commits late is
 * never skipped. Page sizes follow the shared rules (`StoreRules.clampPage`).
 */
import { Duration, Effect, Option, Stream } from "effect"
import type * as Statement from "effect/sql/Statement"
import * as Checkpoint from "../Checkpoint.ts"
import type { StoreUnavailable } from "../Errors.ts"
import type { RecordedEvent } from "../Events.ts"
import type { HoldingTransaction, Page, ReadAllOptions, SubscribeOptions } from "../EventStore.ts"
import * as StoreRules from "../StoreRules.ts"
import type * as Wakeup from "../Wakeup.ts"
import { mapSqlErrors } from "./SqlErrors.ts"
import { eventsOf, type Tables } from "./Tables.ts"

/** Longest wait between polls while committed events sit behind an open transaction. */
const PENDING_POLL_MAX = 100

interface PageResult {
  readonly page: Page
  /** Committed events exist beyond the visibility horizon: an open transaction holds readers back. */
  readonly pending: boolean
}

interface Follow {
  readonly from: Checkpoint.Checkpoint
  readonly waitFirst: boolean
  readonly pendingDelay: number
  readonly ticket: Effect.Effect<void> | undefined
}

/** `committed` wakes subscribers after commits (`postgres/Notifications.ts`). */
export const make = (tables: Tables, committed: Wakeup.Wakeup) => {
  const { sql } = tables
  const eventsTable = tables.events
  const columns = tables.columns
  const horizonSql = tables.horizon
  const newestKey = tables.newestKey

  const filtersOf = (options: ReadAllOptions, below: Statement.Fragment) => {
    const filters = [sql`e.transaction_id < ${below}`]
    const categories = options.categories
    if (categories !== undefined) {
      filters.push(categories.length === 1 ? sql`e.category = ${categories[0]!}` : sql`e.category = ANY(${[...categories]}::text[])`)
    }
    if (options.types !== undefined) filters.push(sql`e.type = ANY(${[...options.types]}::text[])`)
    return filters
  }

  /** A page that computes the horizon in its own statement: the first two columns are horizon and pending. */
  const readPage = (options: ReadAllOptions): Effect.Effect<PageResult & { readonly horizon: bigint }, StoreUnavailable> =>
    Effect.gen(function*() {
      const from = options.from ?? Checkpoint.start
      const { position, transactionId } = Checkpoint.parts(from)
      const limit = StoreRules.clampPage(options.limit)
      const rows = yield* sql`
          WITH h AS MATERIALIZED (${horizonSql.row})
          SELECT h.horizon::text::int8 AS horizon, coalesce(${newestKey} >= h.horizon, false) AS pending, ev.*
          FROM h
          LEFT JOIN LATERAL (
            SELECT ${columns} FROM ${eventsTable} e
            WHERE (e.transaction_id, e.position) > (${transactionId.toString()}::xid8, ${position})
              AND ${sql.and(filtersOf(options, sql`h.horizon`))}
            ORDER BY e.transaction_id, e.position
            LIMIT ${limit}
          ) ev ON true`.values
      const events = eventsOf(rows, 2)
      const head = rows[0]!
      // horizon: int8 (a bigint); pending: a boolean.
      const horizon = head[0] as bigint
      const full = events.length === limit
      const checkpoint = full
        ? events[events.length - 1]!.checkpoint
        : Checkpoint.max(from, Checkpoint.afterTransaction(horizon - 1n))
      return { page: { events, checkpoint, caughtUp: !full }, pending: head[1] === true, horizon }
    }).pipe(mapSqlErrors("readAll"))

  /**
   * A page below a horizon an earlier statement computed. Nothing can ever be added below a horizon
   * (`postgres/Horizon.ts`), so the pages up to it need not compute it again: a pass reads them without
   * the horizon's statement, then computes a new one where they end.
   */
  const readBelow = (options: ReadAllOptions, horizon: bigint): Effect.Effect<Page, StoreUnavailable> =>
    Effect.gen(function*() {
      const from = options.from ?? Checkpoint.start
      const { position, transactionId } = Checkpoint.parts(from)
      const limit = StoreRules.clampPage(options.limit)
      const rows = yield* sql`
          SELECT ${columns} FROM ${eventsTable} e
          WHERE (e.transaction_id, e.position) > (${transactionId.toString()}::xid8, ${position})
            AND ${sql.and(filtersOf(options, sql`${horizon.toString()}::xid8`))}
          ORDER BY e.transaction_id, e.position
          LIMIT ${limit}`.values
      const events = eventsOf(rows, 0)
      const full = events.length === limit
      const checkpoint = full
        ? events[events.length - 1]!.checkpoint
        : Checkpoint.max(from, Checkpoint.afterTransaction(horizon - 1n))
      return { events, checkpoint, caughtUp: !full }
    }).pipe(mapSqlErrors("readAll"))

  const readAll = (options: ReadAllOptions = {}) => readPage(options).pipe(Effect.map((result) => result.page), Effect.withSpan("EventStore.readAll"))

  /**
   * Pages until one that computed the horizon is not full (as before: the pass ends caught up). Between
   * two such pages, the pages below the last horizon computed go without it (`readBelow`).
   */
  const streamAll = (options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.paginate(
      { from: options.from ?? Checkpoint.start, below: undefined as bigint | undefined },
      ({ below, from }) =>
        below === undefined
          ? Effect.map(
            readPage({ ...options, from }),
            ({ horizon, page }) => [page.events, page.caughtUp ? Option.none() : Option.some({ from: page.checkpoint, below: horizon })] as const
          )
          : Effect.map(
            readBelow({ ...options, from }, below),
            (page) => [page.events, Option.some({ from: page.checkpoint, below: page.caughtUp ? undefined : below })] as const
          )
    )

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
      const max = StoreRules.clampBacklog(options.max)
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

  return { readAll, streamAll, subscribe, horizon, checkpointOf, backlog }
}
