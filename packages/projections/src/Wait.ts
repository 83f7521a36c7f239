/**
 * Read-your-writes: a query waits until a projection's readers see everything up to a checkpoint or a
 * position. Waiters are woken by the batch commits of runners in this process and check their last
 * checkpoint in memory, so a waiter costs no database query per batch. Runners in other processes (and a
 * rebuild's new active generation) are seen by polling the registry.
 */
import { Checkpoint, type EventStore, Wakeup } from "@verity/eventstore"
import { type Duration, Effect, Option } from "effect"
import type { Projection } from "./Projection.ts"
import { ProjectionsError, type UnknownProjection, WaitTimedOut } from "./ProjectionsError.ts"
import type { Registry } from "./Registry.ts"

export interface Progress {
  readonly report: (name: string, generation: number, checkpoint: Checkpoint.Checkpoint) => Effect.Effect<void>
  /** The last checkpoint a runner of this process committed for (name, generation). */
  readonly latest: (name: string, generation: number) => Checkpoint.Checkpoint | undefined
  /** A ticket for the next report of any runner. */
  readonly ticket: Effect.Effect<Effect.Effect<void>>
}

export const makeProgress = (): Progress => {
  const wakeup = Wakeup.make()
  const latest = new Map<string, Checkpoint.Checkpoint>()
  return {
    report: (name, generation, checkpoint) =>
      Effect.suspend(() => {
        const key = `${name}\u0001${generation}`
        const previous = latest.get(key)
        latest.set(key, previous === undefined ? checkpoint : Checkpoint.max(previous, checkpoint))
        return wakeup.signal
      }),
    latest: (name, generation) => latest.get(`${name}\u0001${generation}`),
    ticket: wakeup.ticket
  }
}

/** Without a wake-up from a runner of this process, the registry is asked again after this long. */
const POLL = "25 millis"

export interface WaitDeps {
  readonly store: EventStore["Service"]
  readonly registry: Registry
  readonly progress: Progress
  readonly find: (name: string) => Effect.Effect<Projection, UnknownProjection>
}

export const make = ({ find, progress, registry, store }: WaitDeps) =>
  Effect.fn("Projections.waitFor")(function*(name: string, target: Checkpoint.Checkpoint | bigint, timeout: Duration.Input) {
    yield* find(name)
    const goal = typeof target === "bigint"
      ? Option.getOrUndefined(yield* store.checkpointOf(target))
      : target
    // A position no reader can see yet (not committed, or not behind the horizon): wait for it to be.
    const resolve = typeof target === "bigint" && goal === undefined
      ? Effect.map(store.checkpointOf(target), Option.getOrUndefined)
      : Effect.succeed(goal)
    const activeGeneration = Effect.map(registry.activeGeneration(name), Option.getOrUndefined).pipe(
      Effect.mapError(ProjectionsError.database("waitFor"))
    )
    const stored = (generation: number) =>
      registry.generation(name, generation).pipe(
        Effect.map((g) => (Option.isNone(g) ? undefined : g.value.checkpoint)),
        Effect.mapError(ProjectionsError.database("waitFor"))
      )
    let reached: Checkpoint.Checkpoint | undefined
    const done = yield* Effect.gen(function*() {
      let wanted = goal
      let generation = yield* activeGeneration
      let woken = false
      while (true) {
        const ticket = yield* progress.ticket
        wanted ??= yield* resolve
        // After a wake-up by a runner of this process, its progress is in memory: no query. Otherwise
        // (first pass, or POLL without one) ask the database, which knows every process's runners and
        // a rebuild's new active generation.
        const local = generation === undefined ? undefined : progress.latest(name, generation)
        if (wanted !== undefined && local !== undefined && Checkpoint.hasReached(local, wanted)) return true
        if (!woken) {
          generation = yield* activeGeneration
          reached = generation === undefined ? undefined : yield* stored(generation)
          if (wanted !== undefined && reached !== undefined && Checkpoint.hasReached(reached, wanted)) return true
        } else {
          reached = local ?? reached
        }
        woken = Option.isSome(yield* Effect.timeoutOption(ticket, POLL))
      }
    }).pipe(Effect.timeoutOption(timeout))
    if (Option.isNone(done)) {
      return yield* new WaitTimedOut({ name, target: String(target), reached: reached ?? "nothing" })
    }
  })
