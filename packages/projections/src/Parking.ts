/**
 * Parking: the SQL over `parked_streams`, `parked_events` and `dead_letters`, and the one isolate-and-park
 * step that both the runner (a batch that failed as a whole) and the operator controls (retry, skip) use.
 * An event is applied alone in a savepoint; one that keeps failing parks its stream, and the stream's later
 * events wait in `parked_events` until an operator releases it. Nothing is dropped: a skipped event is kept
 * in `dead_letters`. Every function runs inside the caller's checkpoint transaction.
 */
import type { RecordedEvent } from "@verity/eventstore"
import { type Cause, Effect, Exit, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { describeCause } from "./Failures.ts"
import type { Projection, TablesContext } from "./Projection.ts"
import type { Registry } from "./Registry.ts"

export interface ParkedRow {
  readonly stream_id: string
  readonly generation: number
  readonly position: bigint
  readonly event_type: string
  readonly error: string
  readonly attempts: number
  readonly parked_at: Date
  readonly waiting: bigint
}

export const make = (sql: SqlClient, tables: Registry["tables"]) => {
  const { deadLetters, generations, parkedEvents, parkedStreams } = tables

  /** Which of `streams` are parked in the generation; their rows stay locked until the caller commits. */
  const lockParked = (name: string, generation: number, streams: ReadonlyArray<string>) =>
    Effect.map(
      sql<{ readonly stream_id: string }>`
        SELECT stream_id FROM ${parkedStreams}
        WHERE name = ${name} AND generation = ${generation} AND stream_id = ANY(${streams}::text[])
        FOR UPDATE`,
      (rows) => new Set(rows.map((row) => row.stream_id))
    )

  /**
   * Applies `event` alone in a savepoint, up to `attempts` times. Resolves to none once it applies, or to
   * the cause of its last failure; a failure for which `stop` holds ends the attempts at once.
   */
  const applyIsolated = (
    projection: Projection,
    context: TablesContext,
    event: RecordedEvent,
    attempts: number,
    stop: (cause: Cause.Cause<unknown>) => boolean = () => false
  ) =>
    Effect.gen(function*() {
      let failure = Option.none<Cause.Cause<Effect.Error<ReturnType<Projection["apply"]>>>>()
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const exit = yield* sql.withTransaction(projection.apply([event], context)).pipe(
          Effect.provideService(SqlClient, sql),
          Effect.exit
        )
        if (Exit.isSuccess(exit)) return Option.none()
        failure = Option.some(exit.cause)
        if (stop(exit.cause)) break
      }
      return failure
    })

  /**
   * Parks `event`'s stream at `event` after `attempts` failed attempts. A stream parked already (a release
   * whose event failed again) moves to `event`, adds the attempts and restarts its parked time.
   */
  const park = (name: string, generation: number, event: RecordedEvent, error: string, attempts: number) =>
    sql`
      INSERT INTO ${parkedStreams} AS s (name, generation, stream_id, position, event_type, error, attempts)
      VALUES (${name}, ${generation}, ${event.streamId}, ${event.position}, ${event.type}, ${error}, ${attempts})
      ON CONFLICT (name, generation, stream_id) DO UPDATE SET position = EXCLUDED.position, event_type = EXCLUDED.event_type,
        error = EXCLUDED.error, attempts = s.attempts + EXCLUDED.attempts, parked_at = now()`

  /** Keeps `events` (of parked streams) waiting behind their stream's failing event. */
  const holdBack = (name: string, generation: number, events: ReadonlyArray<RecordedEvent>) =>
    events.length === 0 ? Effect.void : sql`
      INSERT INTO ${parkedEvents} (name, generation, stream_id, position)
      SELECT ${name}, ${generation}, s, p FROM unnest(${events.map((e) => e.streamId)}::text[], ${events.map((e) => e.position)}::int8[]) AS t(s, p)
      ON CONFLICT DO NOTHING`.pipe(Effect.asVoid)

  /**
   * The isolate-and-park step of a batch: applies its events one by one (`attempts` each), parks the
   * stream of an event that keeps failing, and holds back every event of a parked stream. Returns how many
   * events applied. A failure for which `stop` holds (the runner's transient ones) fails the whole step.
   */
  const applyEach = (
    projection: Projection,
    generation: number,
    context: TablesContext,
    events: ReadonlyArray<RecordedEvent>,
    parked: Set<string>,
    attempts: number,
    stop: (cause: Cause.Cause<unknown>) => boolean
  ) =>
    Effect.gen(function*() {
      const waiting: Array<RecordedEvent> = []
      let applied = 0
      for (const event of events) {
        if (parked.has(event.streamId)) {
          waiting.push(event)
          continue
        }
        const failure = yield* applyIsolated(projection, context, event, attempts, stop)
        if (Option.isNone(failure)) {
          applied++
          continue
        }
        if (stop(failure.value)) return yield* Effect.failCause(failure.value)
        const error = describeCause(failure.value)
        yield* park(projection.name, generation, event, error, attempts)
        yield* Effect.logWarning("projection parked a stream", { projection: projection.name, stream: event.streamId, error })
        parked.add(event.streamId)
        waiting.push(event)
      }
      yield* holdBack(projection.name, generation, waiting)
      return applied
    })

  /** The parked entry of `stream` in the newest generation that is not retired, locked for a release. */
  const lockHead = (name: string, stream: string) =>
    Effect.map(
      sql<{ readonly generation: number; readonly error: string; readonly attempts: number }>`
        SELECT s.generation, s.error, s.attempts FROM ${parkedStreams} s
        JOIN ${generations} g ON g.name = s.name AND g.generation = s.generation AND g.state <> 'retired'
        WHERE s.name = ${name} AND s.stream_id = ${stream}
        ORDER BY s.generation DESC LIMIT 1
        FOR UPDATE OF s`,
      (rows) => rows[0]
    )

  /** The positions of the events waiting behind `stream` (its failing event among them). */
  const waitingPositions = (name: string, generation: number, stream: string) =>
    Effect.map(
      sql<{ readonly position: bigint }>`
        SELECT position FROM ${parkedEvents} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`,
      (rows) => new Set(rows.map((row) => row.position))
    )

  /** Keeps `event` in the dead letters, with the error it failed on and who skipped it. */
  const deadLetter = (name: string, generation: number, event: RecordedEvent, error: string, by: string) =>
    sql`
      INSERT INTO ${deadLetters} (name, generation, stream_id, position, event_type, error, skipped_by)
      VALUES (${name}, ${generation}, ${event.streamId}, ${event.position}, ${event.type}, ${error}, ${by})`

  /** `event` no longer waits (it applied, or went to the dead letters). */
  const release = (name: string, generation: number, event: RecordedEvent) =>
    sql`DELETE FROM ${parkedEvents}
      WHERE name = ${name} AND generation = ${generation} AND stream_id = ${event.streamId} AND position = ${event.position}`

  /** The stream flows again: nothing of it waits, it is no longer parked. */
  const unpark = (name: string, generation: number, stream: string) =>
    Effect.gen(function*() {
      yield* sql`DELETE FROM ${parkedEvents} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`
      yield* sql`DELETE FROM ${parkedStreams} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`
    })

  /** The parked streams of every generation of `name` that is not retired, oldest first. */
  const list = (name: string) =>
    sql<ParkedRow>`
      SELECT s.*, (SELECT count(*) FROM ${parkedEvents} e
        WHERE e.name = s.name AND e.generation = s.generation AND e.stream_id = s.stream_id) AS waiting
      FROM ${parkedStreams} s
      JOIN ${generations} g ON g.name = s.name AND g.generation = s.generation AND g.state <> 'retired'
      WHERE s.name = ${name} ORDER BY s.parked_at`

  const count = (name: string, generation: number) =>
    Effect.map(
      sql<{ readonly n: bigint }>`
        SELECT count(*) AS n FROM ${parkedStreams} WHERE name = ${name} AND generation = ${generation}`,
      (rows) => Number(rows[0]?.n ?? 0)
    )

  return { lockParked, applyIsolated, park, holdBack, applyEach, lockHead, waitingPositions, deadLetter, release, unpark, list, count }
}

export type Parking = ReturnType<typeof make>
