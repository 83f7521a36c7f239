/**
 * In-process progress of the runners, for read-your-writes: a query that waits for a projection is woken
 * by the batch commits of runners in this process and checks their last checkpoint in memory, so a
 * waiter costs no database query per batch. Runners in other processes are seen by polling.
 */
import { Effect } from "effect"
import { Checkpoint, Wakeup } from "@verity/eventstore"

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
