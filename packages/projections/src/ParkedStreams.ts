/**
 * The operator controls over parked streams: list them, retry one (apply its waiting events again) or
 * skip one (move its failing event to the dead letters, then apply the rest). A release runs in the
 * projection's checkpoint transaction with the parked row locked, so it never races the runner, and uses
 * the runner's own isolate-and-park step (Parking.ts): an event that fails again parks the stream there.
 */
import type { EventStore, RecordedEvent } from "@verity/eventstore"
import { Effect, Option } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { describeCause } from "./Failures.ts"
import type { Parking } from "./Parking.ts"
import { checkpointTransaction, type Projection } from "./Projection.ts"
import { ProjectionsError, StreamNotParked, type UnknownProjection } from "./ProjectionsError.ts"
import type { Registry } from "./Registry.ts"

export interface ParkedStream {
  readonly stream: string
  readonly generation: number
  readonly position: string
  readonly eventType: string
  readonly error: string
  readonly attempts: number
  readonly waitingEvents: number
  readonly parkedAt: Date
}

export interface RetryOutcome {
  /** True when every waiting event applied and the stream flows again. */
  readonly resumed: boolean
  readonly applied: number
  readonly skipped: number
  readonly error: string | undefined
}

export interface ParkedStreamsDeps {
  readonly sql: SqlClient
  readonly store: EventStore["Service"]
  readonly registry: Registry
  readonly parking: Parking
  readonly find: (name: string) => Effect.Effect<Projection, UnknownProjection>
}

export const make = ({ find, parking, registry, sql, store }: ParkedStreamsDeps) => {
  const parked = Effect.fn("Projections.parked")(function*(name: string) {
    yield* find(name)
    const rows = yield* parking.list(name).pipe(Effect.mapError(ProjectionsError.database("parked")))
    return rows.map((row): ParkedStream => ({
      stream: row.stream_id,
      generation: row.generation,
      position: row.position.toString(),
      eventType: row.event_type,
      error: row.error,
      attempts: row.attempts,
      waitingEvents: Number(row.waiting),
      parkedAt: row.parked_at
    }))
  })

  /** Applies the stream's waiting events in order, dead-lettering the first when `skipBy` is given. */
  const release = (name: string, stream: string, skipBy: string | undefined) =>
    Effect.gen(function*() {
      const projection = yield* find(name)
      return yield* checkpointTransaction(projection, store, sql)(Effect.gen(function*() {
        const head = yield* parking.lockHead(name, stream)
        if (head === undefined) return yield* new StreamNotParked({ name, stream })
        const generation = head.generation
        const positions = yield* parking.waitingPositions(name, generation, stream)
        const events: ReadonlyArray<RecordedEvent> = (yield* store.readStream(stream).pipe(
          Effect.catchTag("StreamNotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([])),
          Effect.mapError((e) => new ProjectionsError({ reason: "Store", operation: "parked stream", projection: name, detail: e.message, cause: e }))
        )).filter((e) => positions.has(e.position))
        const context = registry.context(projection, generation, false)
        let applied = 0
        let skipped = 0
        let error: string | undefined
        for (const [index, event] of events.entries()) {
          if (index === 0 && skipBy !== undefined) {
            yield* parking.deadLetter(name, generation, event, head.error, skipBy)
            skipped++
          } else {
            // One attempt per release: the operator asked for exactly one more try.
            const failure = yield* parking.applyIsolated(projection, context, event, 1)
            if (Option.isSome(failure)) {
              error = describeCause(failure.value)
              yield* parking.park(name, generation, event, error, 1)
              break
            }
            applied++
          }
          yield* parking.release(name, generation, event)
        }
        if (error === undefined) yield* parking.unpark(name, generation, stream)
        const outcome: RetryOutcome = { resumed: error === undefined, applied, skipped, error }
        return outcome
      })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(ProjectionsError.database("parked stream", name)(e))))
    })

  const retry = (name: string, stream: string) => release(name, stream, undefined).pipe(Effect.withSpan("Projections.retry"))
  const skip = (name: string, stream: string, by: string) => release(name, stream, by).pipe(Effect.withSpan("Projections.skip"))

  return { parked, retry, skip }
}
