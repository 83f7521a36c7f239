/**
 * The inbox: a JetStream consumer for Verity-based services with an exactly-once effect. For each message
 * the handler's writes and the de-duplication record (consumer name, message id) commit in ONE PostgreSQL
 * transaction, and only then is the message acknowledged; a message redelivered after a crash between
 * commit and ack finds its record and is acknowledged without running the handler again.
 *
 * One process consumes per inbox name (a fenced lease, InboxLease.ts); others wait as standbys and take
 * over when it stops. Messages are handled in batches (one transaction per batch, InboxConsumer.ts) in
 * the durable consumer's order, so per source stream (`verity-stream`) in the publisher's order. A message whose
 * handler keeps failing (`attempts` tries) parks its stream: it and every later message of that stream
 * are kept in `verity_inbox.parked_messages` (and acknowledged at the broker) until an operator retries or
 * skips the stream; other streams keep flowing. A database outage is not a handler failure: the same
 * message is tried again with backoff (status `stalled`), its ack deadline extended, nothing parked.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Option, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Os from "node:os"
import * as InboxBroker from "./InboxBroker.ts"
import * as InboxConsumer from "./InboxConsumer.ts"
import * as InboxControl from "./InboxControl.ts"
import { InboxError, StreamNotParked, wrap } from "./InboxError.ts"
import * as InboxLease from "./InboxLease.ts"
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
  /**
   * Most messages handled in one transaction (default 100): of those already delivered, never waiting
   * for more. A failing message costs its batch one rollback; the messages ahead of it still commit.
   */
  readonly batchSize?: number
  /** How long the lease of the active process lasts without renewal (default 10 s; renewed every third). */
  readonly leaseTtl?: Duration.Input
  /** How often a standby tries to take the lease (default a third of `leaseTtl`). */
  readonly leaseRetry?: Duration.Input
  /** This process's name in the lease (default host, pid and a random suffix). */
  readonly owner?: string
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
  /**
   * `running`: consuming, or waiting as a healthy standby (see `active`); `stalled`: the database or
   * broker is failing (`lastError`); `starting`.
   */
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
  /**
   * Lag in seconds: the age (by the broker's clock) of the oldest message not yet acknowledged, so a
   * message handled but not yet acknowledged still counts; 0 when nothing is pending, undefined while the
   * broker cannot be asked. Messages of parked streams are acknowledged and do not count.
   */
  readonly lagSeconds: number | undefined
  /** True while this instance holds the lease and consumes; false on a standby. */
  readonly active: boolean
  /** This instance's name in the lease. */
  readonly instance: string
  /** The process holding the lease now (undefined when none does). */
  readonly owner: string | undefined
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
    let active = false
    const instance = options.owner ?? `${Os.hostname()}:${globalThis.process.pid}:${crypto.randomUUID().slice(0, 8)}`
    const ttl = Duration.fromInputUnsafe(options.leaseTtl ?? "10 seconds")
    const lease = InboxLease.make(pg, name, ttl)

    const handle = (m: InboxMessage.InboxMessage) => options.handler(m).pipe(Effect.provideService(SqlClient, pg), Effect.provide(context))

    const consumer = InboxConsumer.make({
      name,
      pg,
      store,
      batchSize: Math.max(1, Math.floor(options.batchSize ?? 100)),
      attempts,
      retryDelay,
      handle,
      beforeAck: options.beforeAck,
      health: (error) =>
        Effect.sync(() => {
          state = error === undefined ? "running" : "stalled"
          lastError = error
        })
    })

    const keepOptions: InboxLease.KeepOptions = {
      owner: instance,
      ttl,
      retry: options.leaseRetry === undefined
        ? Duration.millis(Duration.toMillis(ttl) / 3)
        : Duration.fromInputUnsafe(options.leaseRetry),
      onChange: (now) =>
        Effect.sync(() => {
          active = now
        })
    }
    // Migrated, so the database answers: a standby is healthy ("running") until a session says otherwise.
    state = "running"

    // A failed session (broker, database) restarts with the lease kept; only a lost lease lets it go.
    const sessions = (token: string) =>
      consumer.consume(options, token).pipe(
        Effect.catchTag("InboxError", (error) =>
          Effect.sync(() => {
            state = "stalled"
            lastError = error.message
          }).pipe(
            Effect.andThen(Effect.logWarning("inbox session ended", { inbox: name, error: error.message })),
            Effect.andThen(Effect.sleep("500 millis"))
          )),
        Effect.forever
      )
    yield* InboxLease.keep(lease, keepOptions, sessions).pipe(
      Effect.catchTag("LeaseLost", (error) => Effect.logWarning("inbox lease lost", { inbox: name, error: error.message })),
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
      const holder = yield* lease.current.pipe(Effect.mapError(database("status")))
      const lagSeconds = yield* Option.match(info, {
        onNone: () => Effect.succeed(undefined),
        onSome: (i) =>
          i.num_pending + i.num_ack_pending === 0 ? Effect.succeed(0) : InboxBroker.oldestUnacked(options, i).pipe(
            Effect.map((at) => at === undefined ? 0 : Math.max(0, (Date.now() - at.getTime()) / 1000)),
            Effect.orElseSucceed(() => undefined)
          )
      })
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
        lagSeconds,
        active,
        instance,
        owner: holder?.live === true ? holder.owner : undefined,
        parkedStreams: list.length,
        parked: list
      } satisfies InboxStatus
    })

    // Retry and skip are the operator's, from any process (InboxControl.ts); here with this inbox's handler.
    const control: InboxControl.ControlOptions<E, never> = { name, handler: (m) => options.handler(m).pipe(Effect.provide(context)) }

    return {
      name,
      status,
      parked,
      retry: (stream) => InboxControl.retry(control, stream).pipe(Effect.provideService(PgClient.PgClient, pg)),
      skip: (stream, by) => InboxControl.skip(control, stream, by).pipe(Effect.provideService(PgClient.PgClient, pg))
    }
  })

/** Runs one inbox as the `Inbox` service; needs a `PgClient` and what the handler needs. */
export const layer = <E, R>(options: InboxOptions<E, R>): Layer.Layer<Inbox, InboxError, PgClient.PgClient | R> =>
  Layer.effect(Inbox, Effect.map(make(options), Inbox.of))
