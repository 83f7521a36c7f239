/**
 * Where the command bus records what a command with an idempotency key produced, so a retry of that command
 * (same key, same command) gets the original result instead of running again, and the same key with another
 * command is refused (`IdempotencyKeyReused`). `once` runs the command and records its result atomically:
 * on PostgreSQL in the transaction of the command's append (`PgCommandResults`), so a result exists exactly
 * when the command's events committed; concurrent senders of one key wait for the first one and then read
 * its result. Only successes are recorded: a command that failed applied nothing, and a retry runs it again.
 */
import { Context, Deferred, Effect, Exit, Layer, Option } from "effect"
import { IdempotencyKeyReused, type StoreUnavailable } from "../Errors.ts"
import type { EventStore } from "../EventStore.ts"

/** What `once` answers: the command ran now (its value), or it ran before (the recorded JSON). */
export type Once<A> =
  | { readonly _tag: "Ran"; readonly value: A }
  | { readonly _tag: "Recorded"; readonly result: unknown }

export class CommandResults extends Context.Service<CommandResults, {
  /**
   * Runs `run` unless `key` was already recorded: with the same `fingerprint` the recorded result comes back,
   * with another one `IdempotencyKeyReused`. A success is recorded as `record(value)` (JSON) together with
   * whatever `run` wrote.
   */
  readonly once: <A, E, R>(
    key: string,
    fingerprint: string,
    run: Effect.Effect<A, E, R>,
    record: (value: A) => unknown
  ) => Effect.Effect<Once<A>, E | IdempotencyKeyReused | StoreUnavailable, R | EventStore>
}>()("@verity/eventstore/CommandResults") {
  /** Results in memory, for the in-memory store (one process; nothing survives a restart). */
  static readonly layerMemory = Layer.sync(CommandResults, () => makeMemory())
}

interface Entry {
  readonly fingerprint: string
  /** The recorded result, or none when the command failed (the key is then free again). */
  readonly done: Deferred.Deferred<Option.Option<unknown>>
}

const makeMemory = () => {
  const entries = new Map<string, Entry>()
  const once = <A, E, R>(key: string, fingerprint: string, run: Effect.Effect<A, E, R>, record: (value: A) => unknown) =>
    Effect.gen(function*() {
      while (true) {
        const entry = entries.get(key)
        if (entry !== undefined) {
          if (entry.fingerprint !== fingerprint) return yield* new IdempotencyKeyReused({ idempotencyKey: key })
          const recorded = yield* Deferred.await(entry.done)
          if (Option.isSome(recorded)) return { _tag: "Recorded", result: recorded.value } satisfies Once<A>
          continue
        }
        const done = yield* Deferred.make<Option.Option<unknown>>()
        entries.set(key, { fingerprint, done })
        const exit = yield* Effect.exit(run).pipe(
          // Interrupted before an outcome: free the key and wake whoever waits for it.
          Effect.onInterrupt(() => Effect.andThen(Effect.sync(() => entries.delete(key)), Deferred.succeed(done, Option.none())))
        )
        if (Exit.isSuccess(exit)) {
          yield* Deferred.succeed(done, Option.some(record(exit.value)))
          return { _tag: "Ran", value: exit.value } satisfies Once<A>
        }
        entries.delete(key)
        yield* Deferred.succeed(done, Option.none())
        return yield* Effect.failCause(exit.cause)
      }
    })
  return CommandResults.of({ once })
}
