/**
 * LISTEN on a dedicated connection. A listener holds its connection for as long as it lives; taking it from
 * the application's pool would starve that pool (a pool of two, two listeners, and no query could run), so
 * each listener opens its own connection with the pool's settings, and re-opens it after any failure.
 * Notifications are only hints here: whoever listens also polls.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Queue, Schedule } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"

/**
 * Runs forever: calls `onListening` each time the LISTEN is (re-)established (notifications may have been
 * missed before it), and `onNotification` with each payload. Fork it in the owner's scope.
 */
export const listen = (
  pg: PgClient.PgClient,
  channel: string,
  handlers: {
    readonly onListening: Effect.Effect<void>
    readonly onNotification: (payload: string) => Effect.Effect<void>
  }
): Effect.Effect<never> =>
  Effect.scoped(
    Effect.gen(function*() {
      const connection = yield* PgClient.makeClient({ ...pg.config, applicationName: `verity-listen-${channel}`.slice(0, 63) })
      const queue = yield* connection.listen(channel)
      yield* handlers.onListening
      return yield* Queue.take(queue).pipe(
        Effect.flatMap((notification) => handlers.onNotification(notification.payload)),
        Effect.forever
      )
    })
  ).pipe(
    Effect.provide(Reactivity.layer),
    Effect.retry(Schedule.spaced("1 second")),
    Effect.orDie
  )
