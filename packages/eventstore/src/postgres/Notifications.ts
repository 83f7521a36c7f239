/**
 * Wake-ups of the PostgreSQL store's subscribers. Subscribers in this process are woken right after a commit;
 * other processes get at most one NOTIFY per interval, sent after commit outside any transaction, carrying
 * only the sender's instance id (no event data). Notifications are hints: subscribers also poll.
 */
import type { PgClient } from "@effect/sql-pg"
import { Duration, Effect, type Scope } from "effect"
import * as EventId from "../EventId.ts"
import * as Wakeup from "../Wakeup.ts"
import { listen } from "./Listener.ts"

export interface Notifications {
  /** Signalled after each commit of this store, and on other processes' notifications. */
  readonly committed: Wakeup.Wakeup
  /** Run after a commit that appended events. */
  readonly onCommit: Effect.Effect<void>
}

export interface NotificationsOptions {
  /** LISTEN for other processes' commits and NOTIFY ours (default true). */
  readonly enabled: boolean
  /** At most one NOTIFY per this interval. */
  readonly interval: Duration.Input
}

/** Starts the notifier and the listener (when enabled) in the caller's scope. */
export const make = (
  pg: PgClient.PgClient,
  schema: string,
  options: NotificationsOptions
): Effect.Effect<Notifications, never, Scope.Scope> =>
  Effect.gen(function*() {
    const channel = `${schema}_events`
    const committed = Wakeup.make()
    if (!options.enabled) return { committed, onCommit: committed.signal }
    const notifyWanted = Wakeup.make()
    // Identifies this store instance in its notifications (the only payload: no event data is sent).
    const instance = EventId.make()
    const notifyInterval = Duration.fromInputUnsafe(options.interval)
    // Throttles NOTIFY to one per interval, sent outside any transaction: the first commit notifies at
    // once; commits during the following interval share one NOTIFY at its end. The next ticket is taken
    // before notifying, so a commit that lands while we notify or sleep is never missed.
    yield* Effect.gen(function*() {
      let ticket = yield* notifyWanted.ticket
      while (true) {
        yield* ticket
        ticket = yield* notifyWanted.ticket
        yield* pg.notify(channel, instance).pipe(Effect.ignore)
        yield* Effect.sleep(notifyInterval)
      }
    }).pipe(Effect.forkScoped)
    // Other processes' commits wake our subscribers. After (re)connecting, wake them once too: commits
    // made while we were not listening are found by that read, not lost.
    yield* listen(pg, channel, {
      onListening: committed.signal,
      // Our own commits already woke our subscribers: ignore their echo.
      onNotification: (payload) => (payload === instance ? Effect.void : committed.signal)
    }).pipe(
      Effect.forkScoped
    )
    return { committed, onCommit: Effect.andThen(committed.signal, notifyWanted.signal) }
  })
