/**
 * The inbox's consuming loop: pulls batches from the broker session and handles each batch in ONE
 * PostgreSQL transaction, then acknowledges it. The transaction opens with `InboxStore.claim` (the lease's
 * fencing token, the de-duplication check of the whole batch, the locks on its parked streams), runs the
 * handler per message in broker order, and inserts the de-duplication records in one statement.
 *
 * The common case pays no savepoints: when a handler fails, the whole transaction rolls back and the batch
 * is tried again cut just before the failing message, so the messages ahead of it commit; the failing one
 * is then the head of what remains and goes through the attempts-then-park path (every later try still
 * carries the rest of the batch along, so a recovered message does not slow the others down). An outage
 * (retryable SQL error) retries the same batch with backoff; a lost lease ends the session.
 */
import type { PgClient } from "@effect/sql-pg"
import type { JsMsg } from "@nats-io/jetstream"
import { isRetryableSqlError } from "@verity/eventstore"
import { Cause, Duration, Effect, Exit, Schema } from "effect"
import { isSqlError } from "effect/sql/SqlError"
import * as InboxBroker from "./InboxBroker.ts"
import { LeaseLost } from "./InboxError.ts"
import type { InboxMessage } from "./InboxMessage.ts"
import type { InboxStore } from "./InboxStore.ts"

/** The handler of the message at `index` of the batch failed (the transaction rolled back). */
class HandlerFailed extends Schema.TaggedError<HandlerFailed>()("HandlerFailed", {
  index: Schema.Number,
  /** The handler's `Cause`. */
  cause: Schema.Unknown
}) {}

export interface Entry {
  readonly m: InboxMessage
  readonly msg: JsMsg
}

export interface ConsumerContext<E> {
  readonly name: string
  readonly pg: PgClient.PgClient
  readonly store: InboxStore
  readonly batchSize: number
  readonly attempts: number
  readonly retryDelay: Duration.Input
  readonly handle: (m: InboxMessage) => Effect.Effect<void, E>
  readonly beforeAck: ((m: InboxMessage) => Effect.Effect<void>) | undefined
  /** Reports the health: undefined when a transaction went through, else what failed. */
  readonly health: (error: string | undefined) => Effect.Effect<void>
}

/** An outage: trying the same message again later can succeed without anything changing. */
export const isTransient = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((r) => r._tag === "Fail" && isSqlError(r.error) && isRetryableSqlError(r.error))

export const describe = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons.find((r) => r._tag === "Fail" || r._tag === "Die")
  const value: unknown = reason === undefined ? undefined : reason._tag === "Fail" ? reason.error : reason.defect
  if (value instanceof HandlerFailed && Cause.isCause(value.cause)) return describe(value.cause)
  if (value instanceof Error) return value.message
  if (typeof value === "object" && value !== null && "message" in value) return String(value.message)
  return String(value)
}

const failureOf = <T>(cause: Cause.Cause<unknown>, guard: (u: unknown) => u is T): T | undefined => {
  for (const r of cause.reasons) if (r._tag === "Fail" && guard(r.error)) return r.error
  return undefined
}

export const make = <E>(ctx: ConsumerContext<E>) => {
  const { name, pg, store } = ctx

  /** One transaction over `batch`; fails with `HandlerFailed` at the first failing handler. */
  const tryBatch = (token: string, batch: ReadonlyArray<Entry>) =>
    pg.withTransaction(Effect.gen(function*() {
      const claim = yield* store.claim(name, token, batch.map((e) => e.m.id), [...new Set(batch.map((e) => e.m.stream))])
      if (!claim.held) return yield* new LeaseLost({ inbox: name })
      const done = new Set(claim.handled)
      const parked = new Set(claim.parked)
      const handled: Array<InboxMessage> = []
      for (const [index, { m }] of batch.entries()) {
        if (done.has(m.id)) continue
        done.add(m.id)
        if (parked.has(m.stream)) {
          yield* store.hold(name, m)
          continue
        }
        const exit = yield* Effect.exit(ctx.handle(m))
        if (Exit.isFailure(exit)) return yield* new HandlerFailed({ index, cause: exit.cause })
        handled.push(m)
      }
      yield* store.recordMany(name, handled)
    }))

  const parkAt = (token: string, m: InboxMessage, error: string) =>
    pg.withTransaction(Effect.gen(function*() {
      const claim = yield* store.claim(name, token, [m.id], [m.stream])
      if (!claim.held) return yield* new LeaseLost({ inbox: name })
      if (claim.handled.length > 0) return
      yield* store.park(name, m.stream, m.id, error, ctx.attempts)
      yield* store.hold(name, m)
    })).pipe(Effect.tap(() => Effect.logWarning("inbox parked a stream", { inbox: name, stream: m.stream, error })))

  /** Runs the fault hooks in order, then acknowledges the batch at once. */
  const ack = (batch: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      const ready: Array<JsMsg> = []
      for (const { m, msg } of batch) {
        const hook = ctx.beforeAck === undefined ? Effect.void : ctx.beforeAck(m)
        if (Exit.isSuccess(yield* Effect.exit(hook))) ready.push(msg)
      }
      // A lost ack is redelivered later and found in the de-duplication record.
      yield* Effect.forEach(ready, (msg) =>
        InboxBroker.ack(name, msg).pipe(Effect.catch((e) => Effect.logWarning("inbox ack failed", { inbox: name, error: e.message }))), {
        concurrency: "unbounded",
        discard: true
      })
    })

  /** Handles `entries` until each is handled, a duplicate, held or parked; fails only with `LeaseLost`. */
  const processAll = (token: string, entries: ReadonlyArray<Entry>): Effect.Effect<void, LeaseLost> =>
    Effect.gen(function*() {
      let rest = entries
      let limit = rest.length
      let failures = 0
      let outage = Duration.millis(50)
      const stalled = (cause: Cause.Cause<unknown>) =>
        Effect.gen(function*() {
          yield* ctx.health(describe(cause))
          for (const { msg } of rest) msg.working()
          yield* Effect.sleep(outage)
          outage = Duration.min(Duration.times(outage, 2), Duration.seconds(5))
        })
      while (rest.length > 0) {
        const batch = rest.slice(0, limit)
        const exit = yield* Effect.exit(tryBatch(token, batch))
        if (Exit.isSuccess(exit)) {
          yield* ctx.health(undefined)
          yield* ack(batch)
          rest = rest.slice(batch.length)
          limit = rest.length
          failures = 0
          outage = Duration.millis(50)
          continue
        }
        const lost = failureOf(exit.cause, Schema.is(LeaseLost))
        if (lost !== undefined) return yield* lost
        const failed = failureOf(exit.cause, Schema.is(HandlerFailed))
        const cause = failed !== undefined && Cause.isCause(failed.cause) ? failed.cause : exit.cause
        if (isTransient(cause)) {
          yield* stalled(cause)
          continue
        }
        // Commit the messages ahead of the failing one first; a failure outside any handler is narrowed to
        // the head alone, so that it is attributed to the right message.
        if (failed !== undefined && failed.index > 0) {
          limit = failed.index
          continue
        }
        limit = failed === undefined ? 1 : rest.length
        failures++
        if (failures < ctx.attempts) {
          yield* Effect.sleep(ctx.retryDelay)
          continue
        }
        const head = rest[0]!
        const parked = yield* Effect.exit(parkAt(token, head.m, describe(cause)))
        if (Exit.isSuccess(parked)) {
          yield* ack([head])
          rest = rest.slice(1)
          limit = rest.length
          failures = 0
          continue
        }
        const lostAtPark = failureOf(parked.cause, Schema.is(LeaseLost))
        if (lostAtPark !== undefined) return yield* lostAtPark
        yield* stalled(parked.cause)
      }
    })

  /** One session: pull a batch, handle it, acknowledge it; ends with the first broker failure or a lost lease. */
  const consume = (options: InboxBroker.BrokerOptions, token: string) =>
    Effect.scoped(Effect.gen(function*() {
      const next = yield* InboxBroker.session(options, ctx.batchSize)
      yield* ctx.health(undefined)
      while (true) {
        const batch = yield* next
        yield* processAll(token, batch.map((msg) => ({ m: InboxBroker.toMessage(msg), msg })))
      }
    }))

  return { consume }
}
