/**
 * Transactions of the PostgreSQL store: `transaction` runs a caller's effect in one transaction announced as
 * an appender (so readers wait for it, `postgres/Horizon.ts`), and `lockStream` locks a stream's row inside
 * such a transaction. The caller's failures come back unchanged; only the store's own become
 * `StoreUnavailable`.
 */
import { Effect, Option } from "effect"
import type { StoreUnavailable } from "../Errors.ts"
import { mapSqlErrors } from "./SqlErrors.ts"
import { parseStream } from "./StreamReads.ts"
import type { Tables } from "./Tables.ts"

/**
 * Not an error of the store: a box that carries a failure of the caller's effect through the rollback of
 * `transaction`, so it is kept apart from the store's own SqlErrors and handed back with its type intact.
 */
class CallerFailure<E> {
  readonly _tag = "CallerFailure"
  readonly error: E
  constructor(error: E) {
    this.error = error
  }
}

export const make = (tables: Tables) => {
  const { sql } = tables
  const streamsTable = tables.streams
  const horizonSql = tables.horizon

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

  return { transaction, lockStream }
}
