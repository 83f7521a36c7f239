/**
 * A command inside the caller's transaction (the store's `lockStream` says so): it never joins a batch,
 * because its events must commit or roll back with that transaction. The stream's row is locked first
 * (other writers wait for the transaction instead of racing it), then it loads, decides and appends in the
 * caller's fiber. The cache never runs ahead of a commit that may still roll back: its entry is dropped.
 */
import { Decider } from "@verity/kernel"
import { Effect, Option } from "effect"
import type { Aggregate, Handled, HandleError, HandleOptions } from "../CommandHandler.ts"
import { WrongExpectedVersion } from "../Errors.ts"
import { EventStore } from "../EventStore.ts"
import { encodeEvents } from "./Batch.ts"
import { conflictRetry, DEFAULT_ATTEMPTS, isConflict, type Store } from "./Retry.ts"
import type { StateCacheStore } from "./StateCacheStore.ts"
import type { StreamState } from "./StreamState.ts"

export const make = <Command, Event, State, Rejection>(
  aggregate: Aggregate<Command, Event, State, Rejection>,
  streamOf: (id: string) => string,
  streamState: StreamState<State>,
  cache: StateCacheStore<State>
) => {
  const { codec, decider } = aggregate
  const { load, saveSnapshot } = streamState

  const attempt = (id: string, command: Command, options: HandleOptions) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const stream = streamOf(id)
      const loaded = yield* load(id)
      if (options.expectedVersion !== undefined && loaded.version !== options.expectedVersion) {
        return yield* new WrongExpectedVersion({ stream, expected: options.expectedVersion, actual: loaded.version })
      }
      const decided = yield* Effect.fromResult(decider.decide(command, loaded.state))
      if (decided.length === 0) {
        return { events: decided, state: loaded.state, version: loaded.version, appended: Option.none() }
      }
      // No retry when the database fails here: the failed statement aborted the caller's transaction, so
      // only the caller can start over (a projection batch, an idempotent request).
      const appended = yield* store.append(
        stream,
        loaded.version === 0 ? "no_stream" : loaded.version,
        encodeEvents(codec, decided, undefined),
        options.metadata === undefined ? undefined : { metadata: options.metadata }
      )
      const state = Decider.fold(decider, decided, loaded.state)
      yield* saveSnapshot(stream, loaded.version, appended.version, state)
      return { events: decided, state, version: appended.version, appended: Option.some(appended) }
    })

  const handleInTransaction = (
    store: Store,
    id: string,
    command: Command,
    options: HandleOptions
  ): Effect.Effect<Handled<Event, State>, HandleError<Rejection>, EventStore> => {
    const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_ATTEMPTS)
    return attempt(id, command, options).pipe(
      // The row lock makes a conflict rare here (only a stream created concurrently); it is retried the same.
      Effect.retry({
        schedule: conflictRetry,
        times: maxAttempts - 1,
        while: (error) => options.expectedVersion === undefined && isConflict(error)
      }),
      // Not committed yet (the caller's transaction may still roll back): the cache must not run ahead.
      Effect.ensuring(Effect.sync(() => cache.drop(store, streamOf(id))))
    )
  }

  return { handleInTransaction }
}
