/**
 * What a follower pays to poll the global order: `readAll` from its own checkpoint, back to back, once on
 * an idle database (every poll finds nothing new) and once next to 16 clients appending (each poll reads
 * what committed since the last). Every poll computes the visibility horizon, so this is the price of the
 * no-skip guarantee on the read side.
 */
import { Effect, Fiber, Ref } from "effect"
import type { Checkpoint } from "../src/Checkpoint.ts"
import { EventStore } from "../src/EventStore.ts"
import * as Appends from "./Appends.ts"
import * as Config from "./Config.ts"
import * as Measure from "./Measure.ts"

export interface PollingResult {
  readonly idle: Measure.RunResult
  readonly busy: Measure.RunResult
  readonly appendingClients: number
  /** Appends committed by those clients while the busy polls were measured. */
  readonly appendsPerSecond: number
}

const follower = (store: EventStore["Service"], start: Checkpoint, seen: Ref.Ref<number>): Measure.Operation<unknown, never> => {
  let from = start
  return () =>
    store.readAll({ from, limit: 1_000 }).pipe(
      Effect.tap((page) => Ref.update(seen, (n) => n + page.events.length)),
      Effect.map((page) => {
        from = page.checkpoint
        return 1
      })
    )
}

export const run = (runOptions: Measure.RunOptions) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const seen = yield* Ref.make(0)
    yield* Measure.progress("polling: a follower at the head of an idle database")
    const idle = yield* Measure.run([follower(store, (yield* store.horizon).checkpoint, seen)], runOptions)
    if ((yield* Ref.get(seen)) !== 0) return yield* Effect.die(new Error("an idle poll found events"))

    yield* Measure.progress(`polling: a follower next to ${Config.MAX_CLIENTS} appending clients`)
    const start = (yield* store.horizon).checkpoint
    const appenders = yield* Appends.operations("store", Config.MAX_CLIENTS, 1)
    const appended = yield* Ref.make(0)
    const load = yield* Effect.forEach(appenders, (append) =>
      Effect.forever(Effect.flatMap(append(), (n) => Ref.update(appended, (k) => k + n))).pipe(Effect.forkChild))
    const before = yield* Ref.get(appended)
    const busy = yield* Measure.run([follower(store, start, seen)], runOptions)
    const during = (yield* Ref.get(appended)) - before
    yield* Effect.forEach(load, Fiber.interrupt, { discard: true })
    // (The read-all scenario checks that a full pass sees every event exactly once.)
    if ((yield* Ref.get(seen)) === 0) {
      return yield* Effect.die(new Error("the busy follower read nothing"))
    }
    yield* Measure.progress(
      `  idle p50 ${idle.latency.p50Ms.toFixed(2)} ms; busy p50 ${busy.latency.p50Ms.toFixed(2)} ms, p99 ${busy.latency.p99Ms.toFixed(2)} ms`
    )
    return { idle, busy, appendingClients: appenders.length, appendsPerSecond: during / busy.seconds } satisfies PollingResult
  })
