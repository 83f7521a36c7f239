/**
 * Reading the global order: one full pass of `EventStore.streamAll` over every event of the database
 * (at least `config.readAllEvents`), once per page size. The events of the earlier scenarios count; the
 * rest is topped up with large appends through the store itself (which doubles as a bulk-append number).
 * Every pass must see exactly the events in the table: a pass that skips or repeats one is a bug.
 * Next to them, two raw reads of the same rows and columns through the same driver, the reference the
 * store's pass is compared with in the same run: one plain `SELECT ... ORDER BY transaction_id, position`
 * streamed by the driver, and the same read in keyset pages (no horizon, no `RecordedEvent`s).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { EventStore } from "../src/EventStore.ts"
import type * as Cpu from "./Cpu.ts"
import * as Measure from "./Measure.ts"
import * as Payload from "./Payload.ts"

const int = (n: number) => Math.round(n).toLocaleString("en-US")

/** The store reads in pages of each of these; the raw keyset read in pages of the largest. */
export const PAGE_SIZES = [1_000, 5_000] as const
const TOP_UP_BATCH = 1_000
/** Enough appends in flight to keep both PostgreSQL and this process busy on a small machine. */
const TOP_UP_CONCURRENCY = 4

export interface TopUp {
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly batch: number
  readonly concurrency: number
}

/** How the raw reads select the rows: the columns the store reads, without its casts and horizon. */
const RAW_COLUMNS = "position, transaction_id::text::int8 AS tx, stream_id, version, event_id, type, schema_version, data, " +
  "metadata, recorded_at"

export interface RawPass {
  readonly label: string
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly cpu: Cpu.Usage
}

export interface ReadPass {
  readonly pageSize: number
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
  readonly cpu: Cpu.Usage
}

export interface ReadAllResult {
  readonly totalEvents: number
  readonly topUp: TopUp | undefined
  readonly passes: ReadonlyArray<ReadPass>
  readonly raw: ReadonlyArray<RawPass>
}

export const run = (minimumEvents: number, cpu: Cpu.Meter) =>
  Effect.gen(function*() {
    const sql = (yield* PgClient.PgClient).withoutTransforms()
    const store = yield* EventStore
    const count = sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM verity.events`.pipe(
      Effect.map((rows) => Number(rows[0]!.n))
    )

    let topUp: TopUp | undefined
    const missing = minimumEvents - (yield* count)
    if (missing > 0) {
      const batches = Math.ceil(missing / TOP_UP_BATCH)
      const accountId = randomUUID()
      yield* Measure.progress(`read-all: topping up ${batches * TOP_UP_BATCH} events (${batches} appends of ${TOP_UP_BATCH})`)
      let done = 0
      const timed = yield* Measure.once(
        cpu,
        Effect.forEach(
          Array.from({ length: batches }, (_, i) => i),
          (i) =>
            store.append(`filler-s${i}`, "no_stream", Payload.newEvents(accountId, "process:bench-filler", i * TOP_UP_BATCH, TOP_UP_BATCH))
              .pipe(Effect.tap(() => ++done % 100 === 0 ? Measure.progress(`read-all: ${done}/${batches} appends`) : Effect.void)),
          { concurrency: TOP_UP_CONCURRENCY, discard: true }
        )
      )
      const events = batches * TOP_UP_BATCH
      topUp = {
        events,
        seconds: timed.seconds,
        eventsPerSecond: events / timed.seconds,
        batch: TOP_UP_BATCH,
        concurrency: TOP_UP_CONCURRENCY
      }
    }
    // Fresh statistics, as an operator would have after autovacuum: the read plan must not depend on luck.
    yield* sql`ANALYZE verity.events`
    const totalEvents = yield* count

    const raw: Array<RawPass> = []
    const rawPass = (label: string, read: Effect.Effect<number, unknown>) =>
      Effect.gen(function*() {
        yield* Measure.progress(`read-all: ${label}`)
        const timed = yield* Measure.once(cpu, read)
        if (timed.value !== totalEvents) {
          return yield* Effect.die(new Error(`${label} saw ${timed.value} rows, the table holds ${totalEvents}`))
        }
        raw.push({ label, events: timed.value, seconds: timed.seconds, eventsPerSecond: timed.value / timed.seconds, cpu: timed.cpu })
      })
    yield* rawPass(
      "raw SELECT ... ORDER BY transaction_id, position, one statement streamed by the driver",
      Stream.runFold(
        sql`SELECT ${sql.literal(RAW_COLUMNS)} FROM verity.events ORDER BY transaction_id, position`.stream,
        () => 0,
        (n) => n + 1
      )
    )
    const rawPageSize = PAGE_SIZES[1]
    yield* rawPass(
      `raw SELECT in keyset pages of ${int(rawPageSize)} (rows as arrays)`,
      Effect.gen(function*() {
        let after: readonly [string, bigint] = ["0", 0n]
        let n = 0
        while (true) {
          const rows = yield* sql`SELECT ${sql.literal(RAW_COLUMNS)} FROM verity.events
            WHERE (transaction_id, position) > (${after[0]}::xid8, ${after[1]})
            ORDER BY transaction_id, position LIMIT ${rawPageSize}`.values
          n += rows.length
          if (rows.length < rawPageSize) return n
          const last = rows[rows.length - 1]!
          // The first two columns: position and tx, both int8 (bigints).
          after = [String(last[1]), last[0] as bigint]
        }
      })
    )

    const passes: Array<ReadPass> = []
    for (const pageSize of PAGE_SIZES) {
      yield* Measure.progress(`read-all: full pass over ${totalEvents} events, page size ${pageSize}`)
      let seen = 0
      const pass = yield* Measure.once(
        cpu,
        Stream.runForEachArray(store.streamAll({ limit: pageSize }), (events) => Effect.sync(() => (seen += events.length)))
      )
      if (seen !== totalEvents) {
        return yield* Effect.die(new Error(`read-all with page size ${pageSize} saw ${seen} events, the table holds ${totalEvents}`))
      }
      passes.push({
        pageSize,
        events: seen,
        seconds: pass.seconds,
        eventsPerSecond: seen / pass.seconds,
        cpu: pass.cpu
      })
    }
    return { totalEvents, topUp, passes, raw } satisfies ReadAllResult
  })
