/**
 * A broadcast "something changed" signal without lost wake-ups: a waiter takes a ticket BEFORE it looks
 * for work, so a signal that fires while it is looking still completes that ticket.
 */
import { Deferred, Effect, Exit } from "effect"

export interface Wakeup {
  /** A ticket for the next signal; `yield* ticket` waits for it. */
  readonly ticket: Effect.Effect<Effect.Effect<void>>
  readonly signal: Effect.Effect<void>
  /** Signal from outside an effect (e.g. a driver callback). */
  readonly signalUnsafe: () => void
}

export const make = (): Wakeup => {
  let current = Deferred.makeUnsafe<void>()
  const signalUnsafe = () => {
    const fired = current
    current = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(fired, Exit.void)
  }
  return {
    ticket: Effect.sync(() => Deferred.await(current)),
    signal: Effect.sync(signalUnsafe),
    signalUnsafe
  }
}
