/**
 * Projection lag under a steady write rate, with the runtime's live runners in this process.
 *
 * Appends of `eventsPerAppend` deposits go to random accounts on a drift-free schedule (every
 * `eventsPerAppend / rate` seconds, each in its own fiber so a slow append never delays the next). For each
 * append, the time its `append` returned (the commit) is recorded; a prober (below) records when each read
 * model's committed checkpoint first covers it. Lag = that time - the append's return.
 */
import { Checkpoint, type EventStore } from "@verity/eventstore"
import { Duration, Effect, Fiber, FiberSet } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { accountCodec } from "../src/Streams.ts"

export interface LagOptions {
  readonly rate: number
  readonly eventsPerAppend: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly accountIds: ReadonlyArray<string>
  readonly currencyOf: (index: number) => string
  readonly readModels: ReadonlyArray<string>
}

export interface Percentiles {
  readonly count: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly meanMs: number
}

export interface LagResult {
  readonly targetRate: number
  readonly achievedRate: number
  readonly appends: number
  readonly events: number
  readonly seconds: number
  readonly appendLatency: Percentiles
  readonly lag: Readonly<Record<string, Percentiles>>
}

export const percentiles = (values: ReadonlyArray<number>): Percentiles => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  return {
    count: sorted.length,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1] ?? 0,
    meanMs: sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length
  }
}

interface Appended {
  readonly checkpoint: Checkpoint.Checkpoint
  readonly committedAt: number
}

const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * Settles appends as the read models' commits cover them. One fiber for all read models polls their active
 * checkpoints in one light query every millisecond (while anything is pending) and settles every append a
 * checkpoint covers at the time of that read: an upper bound of the true lag, about 1 ms coarse. (Calling
 * `Projections.waitFor` per append would measure the same thing, but every waiter re-reads the registry on
 * every batch commit of any runner: with a few hundred waits in flight per second that load distorted the
 * very lag it measured.)
 */
const probe = (names: ReadonlyArray<string>, queues: ReadonlyArray<Array<Appended>>, done: () => boolean) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const checkpoints = sql<{ readonly name: string; readonly checkpoint: string }>`
      SELECT name, checkpoint FROM verity_projections.generations WHERE state = 'active' AND name = ANY(${[...names]}::text[])`.pipe(
      Effect.orDie
    )
    const lags: Array<Array<number>> = names.map(() => [])
    while (true) {
      const pending = queues.some((queue) => queue.length > 0)
      if (!pending && done()) return lags
      yield* Effect.sleep(pending ? "1 millis" : "5 millis")
      if (!pending) continue
      const rows = yield* checkpoints
      const now = performance.now()
      for (const [i, name] of names.entries()) {
        const reached = rows.find((row) => row.name === name)?.checkpoint as Checkpoint.Checkpoint | undefined
        const queue = queues[i]!
        if (reached === undefined || queue.length === 0) continue
        const waiting = queue.filter((appended) => {
          if (!Checkpoint.hasReached(reached, appended.checkpoint)) return true
          lags[i]!.push(Math.max(0, now - appended.committedAt))
          return false
        })
        queue.splice(0, queue.length, ...waiting)
      }
    }
  })

export const run = (store: EventStore["Service"], options: LagOptions) =>
  Effect.gen(function*() {
    const random = prng(4_242)
    const queues: Array<Array<Appended>> = options.readModels.map(() => [])
    let finished = false
    const prober = yield* Effect.forkChild(probe(options.readModels, queues, () => finished))
    const appends = yield* FiberSet.make<void>()
    const appendLatencies: Array<number> = []
    const interval = (1_000 * options.eventsPerAppend) / options.rate
    const start = performance.now()
    const measureFrom = start + options.warmupSeconds * 1_000
    const end = measureFrom + options.seconds * 1_000
    let measuredAppends = 0

    const appendOne = (n: number) =>
      Effect.gen(function*() {
        const index = Math.floor(random() * options.accountIds.length)
        const accountId = options.accountIds[index]!
        const currency = options.currencyOf(index)
        const at = Date.UTC(2026, 0, 1) + n
        const events = Array.from({ length: options.eventsPerAppend }, (_, k) => {
          const encoded = accountCodec.encode({ _tag: "MoneyDeposited", accountId, amount: 100 + k, currency, at } as never)
          return { eventId: crypto.randomUUID(), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
        })
        const began = performance.now()
        const result = yield* store.append(`account-${accountId}`, "any", events).pipe(Effect.orDie)
        const committedAt = performance.now()
        if (began >= measureFrom) {
          measuredAppends++
          appendLatencies.push(committedAt - began)
          for (const queue of queues) queue.push({ checkpoint: result.checkpoint, committedAt })
        }
      })

    for (let n = 0;; n++) {
      const due = start + n * interval
      if (due >= end) break
      const wait = due - performance.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      yield* FiberSet.run(appends, appendOne(n))
    }
    yield* FiberSet.awaitEmpty(appends)
    const seconds = (performance.now() - measureFrom) / 1_000
    finished = true
    const lags = yield* Fiber.join(prober)
    return {
      targetRate: options.rate,
      achievedRate: (measuredAppends * options.eventsPerAppend) / options.seconds,
      appends: measuredAppends,
      events: measuredAppends * options.eventsPerAppend,
      seconds,
      appendLatency: percentiles(appendLatencies),
      lag: Object.fromEntries(options.readModels.map((name, i) => [name, percentiles(lags[i]!)]))
    } satisfies LagResult
  }).pipe(Effect.scoped)
