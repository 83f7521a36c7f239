/**
 * The inbox: a JetStream consumer for Verity-based services with an exactly-once effect. For each message
 * the handler's writes and the de-duplication record (consumer name, message id) commit in ONE PostgreSQL
 * transaction, and only then is the message acknowledged; a message redelivered after a crash between
 * commit and ack finds its record and is acknowledged without running the handler again.
 *
 * Ordering and parking follow the projection runtime: messages are handled one at a time in the durable
 * consumer's order, so per source stream (`verity-stream`) in the publisher's order. A message whose
 * handler keeps failing (`attempts` tries) parks its stream: it and every later message of that stream
 * are kept in `verity_inbox.parked_messages` (and acknowledged at the broker) until an operator retries or
 * skips the stream; other streams keep flowing. A database outage is not a handler failure: the same
 * message is tried again with backoff (status `stalled`), its ack deadline extended, nothing parked.
 */
import { PgClient } from "@effect/sql-pg"
import type { JsMsg } from "@nats-io/jetstream"
import { isRetryableSqlError } from "@verity/eventstore"
import { type Cause, Context, Duration, Effect, Exit, Layer, Option, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { isSqlError } from "effect/sql/SqlError"
import * as InboxBroker from "./InboxBroker.ts"
import { InboxError, StreamNotParked, wrap } from "./InboxError.ts"
import * as InboxMessage from "./InboxMessage.ts"
import * as InboxSchema from "./InboxSchema.ts"
import * as InboxStore from "./InboxStore.ts"

export { InboxError, InboxMessage, StreamNotParked }

export interface InboxOptions<E, R> extends InboxBroker.BrokerOptions {
  /**
   * Handles one message inside the inbox's transaction: write with the `SqlClient` it is given. A failure
   * (or defect) rolls back and counts as an attempt.
   */
  readonly handler: (message: InboxMessage.InboxMessage) => Effect.Effect<void, E, SqlClient | R>
  /** Tries of a failing message before its stream parks (default 3). */
  readonly attempts?: number
  /** Pause between two tries of a failing message (default 100 ms). */
  readonly retryDelay?: Duration.Input
  /** Fault injection for tests: runs after the commit and before the ack; a failure skips the ack. */
  readonly beforeAck?: (message: InboxMessage.InboxMessage) => Effect.Effect<void>
}

export interface ParkedStream {
  readonly stream: string
  /** The failing message's id. */
  readonly messageId: string
  readonly error: string
  readonly attempts: number
  /** Messages held, the failing one included. */
  readonly waitingMessages: number
  readonly parkedAt: Date
}

export interface InboxStatus {
  readonly name: string
  readonly stream: string
  /** `running`: consuming; `stalled`: the database or broker is failing (`lastError`); `starting`. */
  readonly state: "starting" | "running" | "stalled"
  readonly lastError: string | undefined
  readonly handled: number
  /** The broker sequence, store position (as text), source stream and time of the last handled message. */
  readonly lastSeq: number | undefined
  readonly lastPosition: string | undefined
  readonly lastStream: string | undefined
  readonly lastHandledAt: Date | undefined
  /** Lag in messages: the consumer's `num_pending` (undefined while the broker cannot be asked). */
  readonly pending: number | undefined
  /** Delivered and not yet acknowledged (`num_ack_pending`). */
  readonly ackPending: number | undefined
  readonly parkedStreams: number
  readonly parked: ReadonlyArray<ParkedStream>
}

export interface RetryOutcome {
  /** True when every held message applied (or was skipped) and the stream flows again. */
  readonly resumed: boolean
  readonly applied: number
  readonly skipped: number
  readonly error: string | undefined
}

export interface InboxService {
  readonly name: string
  readonly status: Effect.Effect<InboxStatus, InboxError>
  readonly parked: Effect.Effect<ReadonlyArray<ParkedStream>, InboxError>
  /** Applies the stream's held messages again, in order, one try each. */
  readonly retry: (stream: string) => Effect.Effect<RetryOutcome, InboxError | StreamNotParked>
  /** Moves the stream's failing message to the dead letters (recording `by`), then applies the rest. */
  readonly skip: (stream: string, by: string) => Effect.Effect<RetryOutcome, InboxError | StreamNotParked>
}

export class Inbox extends Context.Service<Inbox, InboxService>()("@verity/integration/Inbox") {}

/** An outage: trying the same message again later can succeed without anything changing. */
const isTransient = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((r) => r._tag === "Fail" && isSqlError(r.error) && isRetryableSqlError(r.error))

const describe = (cause: Cause.Cause<unknown>): string => {
  const reason = cause.reasons.find((r) => r._tag === "Fail" || r._tag === "Die")
  const value: unknown = reason === undefined ? undefined : reason._tag === "Fail" ? reason.error : reason.defect
  if (value instanceof Error) return value.message
  if (typeof value === "object" && value !== null && "message" in value) return String(value.message)
  return String(value)
}

const fromHeld = (stream: string, row: InboxStore.HeldRow) => ({
  ...InboxMessage.make(row.subject, Number(row.seq), row.headers, row.payload),
  id: row.message_id,
  stream
})

/**
 * Starts an inbox in the scope: migrates `verity_inbox`, then consumes in a background fiber (restarting
 * a failed session with backoff) until the scope closes.
 */
export const make = <E, R>(options: InboxOptions<E, R>): Effect.Effect<InboxService, InboxError, PgClient.PgClient | R | Scope.Scope> =>
  Effect.gen(function*() {
    const { name } = options
    const pg = yield* PgClient.PgClient
    const context = yield* Effect.context<R>()
    const store = InboxStore.make(pg)
    const attempts = Math.max(1, options.attempts ?? 3)
    const retryDelay = options.retryDelay ?? "100 millis"
    const database = (operation: string) => wrap(name, operation, "Database")
    yield* InboxSchema.migrate.pipe(Effect.provideService(SqlClient, pg), Effect.mapError(database("migrate")))

    let state: InboxStatus["state"] = "starting"
    let lastError: string | undefined

    const handle = (m: InboxMessage.InboxMessage) => options.handler(m).pipe(Effect.provideService(SqlClient, pg), Effect.provide(context))

    /** One try: skip a handled message, hold one of a parked stream, or handle it; all in one transaction. */
    const tryOnce = (m: InboxMessage.InboxMessage) =>
      pg.withTransaction(Effect.gen(function*() {
        if (yield* store.isHandled(name, m.id)) return "duplicate"
        if ((yield* store.lockParked(name, m.stream)) !== undefined) {
          yield* store.hold(name, m)
          return "held"
        }
        yield* handle(m)
        yield* store.record(name, m)
        return "handled"
      }))

    const parkAt = (m: InboxMessage.InboxMessage, error: string) =>
      pg.withTransaction(Effect.gen(function*() {
        if (yield* store.isHandled(name, m.id)) return
        yield* store.park(name, m.stream, m.id, error, attempts)
        yield* store.hold(name, m)
      })).pipe(Effect.tap(() => Effect.logWarning("inbox parked a stream", { inbox: name, stream: m.stream, error })))

    /** Handles `m` until it is handled, a duplicate, held or parked; outages are retried with backoff. */
    const process = (m: InboxMessage.InboxMessage, msg: JsMsg): Effect.Effect<void> =>
      Effect.gen(function*() {
        let failures = 0
        let outage = Duration.millis(50)
        while (true) {
          const exit = yield* Effect.exit(tryOnce(m))
          if (Exit.isSuccess(exit)) {
            state = "running"
            lastError = undefined
            return
          }
          if (isTransient(exit.cause)) {
            state = "stalled"
            lastError = describe(exit.cause)
            msg.working()
            yield* Effect.sleep(outage)
            outage = Duration.min(Duration.times(outage, 2), Duration.seconds(5))
            continue
          }
          failures++
          if (failures < attempts) {
            yield* Effect.sleep(retryDelay)
            continue
          }
          const parked = yield* Effect.exit(parkAt(m, describe(exit.cause)))
          if (Exit.isSuccess(parked)) return
          state = "stalled"
          lastError = describe(parked.cause)
          yield* Effect.sleep(outage)
        }
      })

    /** One session: pull, process, (fault hook,) ack; ends with the first broker failure. */
    const consume = Effect.scoped(Effect.gen(function*() {
      const next = yield* InboxBroker.session(options)
      state = "running"
      while (true) {
        const msg = yield* next
        const m = InboxBroker.toMessage(msg)
        yield* process(m, msg)
        const hook = options.beforeAck === undefined ? Effect.void : options.beforeAck(m)
        if (Exit.isFailure(yield* Effect.exit(hook))) continue
        // A lost ack is redelivered later and found in the de-duplication record.
        yield* InboxBroker.ack(name, msg).pipe(Effect.catch((e) => Effect.logWarning("inbox ack failed", { inbox: name, error: e.message })))
      }
    }))

    yield* consume.pipe(
      Effect.catch((error) =>
        Effect.sync(() => {
          state = "stalled"
          lastError = error.message
        }).pipe(
          Effect.andThen(Effect.logWarning("inbox session ended", { inbox: name, error: error.message })),
          Effect.andThen(Effect.sleep("500 millis"))
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const parked = store.list(name).pipe(
      Effect.map((rows) =>
        rows.map((row): ParkedStream => ({
          stream: row.stream_id,
          messageId: row.message_id,
          error: row.error,
          attempts: row.attempts,
          waitingMessages: Number(row.waiting),
          parkedAt: row.parked_at
        }))
      ),
      Effect.mapError(database("parked"))
    )

    const status = Effect.gen(function*() {
      const progress = yield* store.progress(name).pipe(Effect.mapError(database("status")))
      const list = yield* parked
      const info = yield* InboxBroker.info(options).pipe(Effect.option)
      return {
        name,
        stream: options.stream,
        state,
        lastError,
        handled: Number(progress?.handled ?? 0),
        lastSeq: progress?.last_seq == null ? undefined : Number(progress.last_seq),
        lastPosition: progress?.last_position == null ? undefined : progress.last_position.toString(),
        lastStream: progress?.last_stream ?? undefined,
        lastHandledAt: progress?.last_handled_at ?? undefined,
        pending: Option.getOrUndefined(Option.map(info, (i) => i.num_pending)),
        ackPending: Option.getOrUndefined(Option.map(info, (i) => i.num_ack_pending)),
        parkedStreams: list.length,
        parked: list
      } satisfies InboxStatus
    })

    /** Applies the stream's held messages in order, dead-lettering the first when `skipBy` is given. */
    const release = (stream: string, skipBy: string | undefined) =>
      pg.withTransaction(Effect.gen(function*() {
        const head = yield* store.lockParked(name, stream)
        if (head === undefined) return yield* new StreamNotParked({ inbox: name, stream })
        const held = yield* store.held(name, stream)
        let applied = 0
        let skipped = 0
        let error: string | undefined
        for (const [index, row] of held.entries()) {
          const m = fromHeld(stream, row)
          if (index === 0 && skipBy !== undefined) {
            yield* store.deadLetter(name, stream, row, head.error, skipBy)
            yield* store.recordSkipped(name, stream, row)
            skipped++
          } else if (!(yield* store.isHandled(name, m.id))) {
            // One try per release: the operator asked for exactly one more; a savepoint keeps the rest.
            const exit = yield* Effect.exit(pg.withTransaction(Effect.andThen(handle(m), store.record(name, m))))
            if (Exit.isFailure(exit)) {
              error = describe(exit.cause)
              yield* store.park(name, stream, m.id, error, 1)
              break
            }
            applied++
          }
          yield* store.release(name, m.id)
        }
        if (error === undefined) yield* store.unpark(name, stream)
        return { resumed: error === undefined, applied, skipped, error } satisfies RetryOutcome
      })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(database(skipBy === undefined ? "retry" : "skip")(e))))

    return {
      name,
      status,
      parked,
      retry: (stream) => release(stream, undefined).pipe(Effect.withSpan("Inbox.retry", { attributes: { inbox: name, stream } })),
      skip: (stream, by) => release(stream, by).pipe(Effect.withSpan("Inbox.skip", { attributes: { inbox: name, stream } }))
    }
  })

/** Runs one inbox as the `Inbox` service; needs a `PgClient` and what the handler needs. */
export const layer = <E, R>(options: InboxOptions<E, R>): Layer.Layer<Inbox, InboxError, PgClient.PgClient | R> =>
  Layer.effect(Inbox, Effect.map(make(options), Inbox.of))
