/**
 * Read-your-writes for read-model queries: `?waitForPosition=<position>` (the `position` a command
 * answered with) makes a query wait, bounded by `VERITY_API_WAIT_TIMEOUT`, until the read model it reads
 * has applied that event; past the bound it answers 503 `ProjectionNotCaughtUp` (retry), never stale data
 * silently.
 */
import { Projections } from "@verity/projections"
import { Duration, Effect, Schema } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import * as Commands from "./Commands.ts"
import * as Problems from "./Problems.ts"
import * as Ranges from "./Ranges.ts"

/** The query parameter, documented once for every endpoint that offers it. */
export const WaitForPosition = Schema.optional(Ranges.Position).annotate({
  description: "Wait (bounded) until the read model has applied the event at this global position"
})

/**
 * The wait, with the services captured when a group is built (handlers run per request, outside that
 * context): `waitFor(projection, position)` waits until `projection` has applied `position` (nothing to do
 * without one, or for position 0).
 */
export const make = Effect.gen(function*() {
  const config = yield* ApiConfig
  const projections = yield* Projections.Projections
  return (projection: string, position: string | undefined) =>
    // Position 0 is before the first event: every read model has reached it, there is nothing to wait for.
    position === undefined || BigInt(position) === 0n ?
      Effect.void :
      projections.waitFor(projection, BigInt(position), config.readYourWritesTimeout).pipe(
        Effect.catchTags({
          WaitTimedOut: () =>
            Effect.fail(
              new Problems.ProjectionNotCaughtUp({
                projection,
                position,
                detail: `the read model ${projection} has not reached position ${position} within ${
                  Duration.format(config.readYourWritesTimeout)
                }; retry`
              })
            ),
          StoreUnavailable: Commands.unavailable,
          UnknownProjection: Effect.die,
          ProjectionsError: Effect.die
        })
      )
})
