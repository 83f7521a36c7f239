/**
 * The per-stream queues (per store instance): commands for one stream wait in its lane instead of racing.
 * A caller that finds the stream idle decides its own command at once (a batch of one, no hand-over), and
 * then hands whatever queued meanwhile to a detached drain fiber, which takes up to `maxBatch` at a time
 * until the lane is empty. A caller that stops waiting before a batch took its command is skipped, and
 * every caller gets its own outcome, delivered only after its batch committed.
 */
import { Deferred, Effect, Exit } from "effect"
import type { Handled, HandleError, HandleOptions } from "../CommandHandler.ts"
import { EventStore } from "../EventStore.ts"
import type { Batches, BatchItem } from "./Batch.ts"
import type { Store } from "./Retry.ts"

/** A command waiting in its stream's queue for the batch that decides it. */
interface Queued<Command, Event, State, Rejection> extends BatchItem<Command> {
  readonly done: Deferred.Deferred<Handled<Event, State>, HandleError<Rejection>>
  /** Its caller stopped waiting before a batch took it: it is skipped, never decided. */
  cancelled: boolean
}

interface Lane<Command, Event, State, Rejection> {
  readonly queued: Array<Queued<Command, Event, State, Rejection>>
}

export const make = <Command, Event, State, Rejection>(
  streamOf: (id: string) => string,
  maxBatch: number,
  { runBatch }: Batches<Command, Event, State, Rejection>
) => {
  type Item = Queued<Command, Event, State, Rejection>
  // Per store instance: two stores (two databases, or two runtimes standing for two processes) never share
  // a queue.
  const lanes = new WeakMap<Store, Map<string, Lane<Command, Event, State, Rejection>>>()

  /** The fiber that serves one stream's queue until it is empty. */
  const drain = (
    store: Store,
    id: string,
    queues: Map<string, Lane<Command, Event, State, Rejection>>,
    lane: Lane<Command, Event, State, Rejection>
  ) =>
    Effect.gen(function*() {
      while (true) {
        const items = lane.queued.splice(0, maxBatch).filter((item) => !item.cancelled)
        if (items.length === 0) {
          if (lane.queued.length > 0) continue
          // No yield between this check and the removal: a command queued later starts a new drain.
          queues.delete(streamOf(id))
          return
        }
        const outcomes = yield* Effect.exit(runBatch(store, id, items))
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!
          // A defect fails every caller of the batch with it rather than leaving them waiting.
          yield* Deferred.done(item.done, Exit.isSuccess(outcomes) ? outcomes.value[i]! : Exit.failCause(outcomes.cause))
        }
      }
    }).pipe(Effect.provideService(EventStore, store))

  const enqueue = (store: Store, id: string, command: Command, options: HandleOptions) =>
    Effect.gen(function*() {
      let queues = lanes.get(store)
      if (queues === undefined) {
        queues = new Map()
        lanes.set(store, queues)
      }
      const stream = streamOf(id)
      const item: Item = { command, options, done: yield* Deferred.make<Handled<Event, State>, HandleError<Rejection>>(), cancelled: false }
      const existing = queues.get(stream)
      if (existing !== undefined) {
        existing.queued.push(item)
        return yield* Deferred.await(item.done).pipe(Effect.onInterrupt(() => Effect.sync(() => (item.cancelled = true))))
      }
      // The stream is idle: this caller decides its own command at once (a batch of one, no hand-over to
      // another fiber), while later callers queue behind it; it then hands what queued to a drain fiber.
      // Uninterruptible, so the hand-over always happens.
      const lane: Lane<Command, Event, State, Rejection> = { queued: [] }
      queues.set(stream, lane)
      const owned = queues
      const outcome = yield* Effect.uninterruptible(Effect.gen(function*() {
        const outcomes = yield* Effect.exit(runBatch(store, id, [item]))
        // No yield between this check and the removal: a command queued later finds no lane and starts anew.
        if (lane.queued.length === 0) owned.delete(stream)
        // Detached: a caller that stops waiting must not take the other callers' batch down with it.
        else yield* Effect.forkDetach(drain(store, id, owned, lane))
        return Exit.isSuccess(outcomes) ? outcomes.value[0]! : Exit.failCause(outcomes.cause)
      }))
      return yield* outcome
    })

  return { enqueue }
}
