/**
 * In-process progress of the runners, for read-your-writes: a query that waits for a projection is woken
 * by the batch commit of a runner in this process instead of polling the database.
 */
import type { Effect } from "effect"
import type { Checkpoint } from "@verity/eventstore"
import { Wakeup } from "@verity/eventstore"

export interface Progress {
  readonly report: (name: string, generation: number, checkpoint: Checkpoint.Checkpoint) => Effect.Effect<void>
  /** A ticket for the next report of any runner. */
  readonly ticket: Effect.Effect<Effect.Effect<void>>
}

export const makeProgress = (): Progress => {
  const wakeup = Wakeup.make()
  return {
    report: () => wakeup.signal,
    ticket: wakeup.ticket
  }
}
