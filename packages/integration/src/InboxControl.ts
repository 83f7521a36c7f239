/**
 * An operator's retry or skip of an inbox's parked stream from any process: it needs the inbox's name
 * and handler, not the running inbox. Everything happens in one PostgreSQL transaction that locks the
 * stream's parked row (`InboxStore.lockParked`), the lock the running inbox takes before it holds a new
 * message, so the consumer loop (in another thread or process) and the operator never interleave; the
 * broker is not involved, since the held messages were acknowledged there when they were kept.
 *
 * The semantics are the inbox's own (`InboxService.retry` / `skip`): the held messages are applied again
 * in order, one try each; a skip first moves the failing one to the dead letters, recording who did it.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { RetryOutcome } from "./Inbox.ts"
import * as InboxConsumer from "./InboxConsumer.ts"
import { type InboxError, StreamNotParked, wrap } from "./InboxError.ts"
import * as InboxMessage from "./InboxMessage.ts"
import * as InboxStore from "./InboxStore.ts"

export interface ControlOptions<E, R> {
  readonly name: string
  /** The inbox's handler (the same as the running inbox's), run inside the release's transaction. */
  readonly handler: (message: InboxMessage.InboxMessage) => Effect.Effect<void, E, SqlClient | R>
}

const release = <E, R>(options: ControlOptions<E, R>, stream: string, skipBy: string | undefined) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const { name } = options
    const store = InboxStore.make(pg)
    const handle = (m: InboxMessage.InboxMessage) => options.handler(m).pipe(Effect.provideService(SqlClient, pg))
    return yield* pg.withTransaction(Effect.gen(function*() {
      const head = yield* store.lockParked(name, stream)
      if (head === undefined) return yield* new StreamNotParked({ inbox: name, stream })
      const held = yield* store.held(name, stream)
      let applied = 0
      let skipped = 0
      let error: string | undefined
      for (const [index, row] of held.entries()) {
        const m = { ...InboxMessage.make(row.subject, Number(row.seq), row.headers, row.payload), id: row.message_id, stream }
        if (index === 0 && skipBy !== undefined) {
          yield* store.deadLetter(name, stream, row, head.error, skipBy)
          yield* store.recordSkipped(name, stream, row)
          skipped++
        } else if (!(yield* store.isHandled(name, m.id))) {
          // One try per release (a savepoint keeps what applied before a failure).
          const exit = yield* Effect.exit(pg.withTransaction(Effect.andThen(handle(m), store.record(name, m))))
          if (Exit.isFailure(exit)) {
            error = InboxConsumer.describe(exit.cause)
            yield* store.park(name, stream, m.id, error, 1)
            break
          }
          applied++
        }
        yield* store.release(name, m.id)
      }
      if (error === undefined) yield* store.unpark(name, stream)
      return { resumed: error === undefined, applied, skipped, error } satisfies RetryOutcome
    })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(wrap(name, skipBy === undefined ? "retry" : "skip", "Database")(e))))
  })

/** Applies the parked stream's held messages again, in order, one try each. */
export const retry = <E, R>(
  options: ControlOptions<E, R>,
  stream: string
): Effect.Effect<RetryOutcome, InboxError | StreamNotParked, PgClient.PgClient | Exclude<R, SqlClient>> =>
  release(options, stream, undefined).pipe(Effect.withSpan("InboxControl.retry", { attributes: { inbox: options.name, stream } }))

/** Moves the parked stream's failing message to the dead letters (recording `by`), then applies the rest. */
export const skip = <E, R>(
  options: ControlOptions<E, R>,
  stream: string,
  by: string
): Effect.Effect<RetryOutcome, InboxError | StreamNotParked, PgClient.PgClient | Exclude<R, SqlClient>> =>
  release(options, stream, by).pipe(Effect.withSpan("InboxControl.skip", { attributes: { inbox: options.name, stream } }))
