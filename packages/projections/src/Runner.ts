/**
 * Runs one generation of one projection: take its lock, catch up in batches, then follow live.
 *
 * - Exclusive: a session advisory lock per (projection, generation), held on a reserved connection, so
 *   one process applies it at a time; when the holder dies its connection closes, the lock frees, and a
 *   waiting runner takes over. The holder checks its lock's connection every heartbeat: when it is gone
 *   (server restarted, backend terminated) the lock is gone too, so the run ends and the supervisor starts
 *   it again from the checkpoint, taking the lock anew. Every batch also compare-and-sets the checkpoint, so
 *   a runner that lost its lock unnoticed can never commit a batch twice.
 * - Exactly once: a batch's read-model changes and the checkpoint commit in one transaction.
 * - Failures: transient ones (connection, deadlock, serialization) retry the same batch with backoff,
 *   forever, reporting `stalled`. Anything else re-runs the batch event by event in savepoints; an event
 *   that still fails after `maxAttempts` parks its stream: later events of that stream wait in
 *   `parked_events`, other streams go on. Nothing is dropped.
 * - Verified switch: a caught-up `building` generation becomes active only after `verifySwitch` accepts it
 *   (it compares the generation with the events); a refused one keeps following the log, never activated.
 */
import { Data, Duration, Effect, Exit, Option, Ref, Schedule, Stream } from "effect"
import type { Cause } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { isSqlError } from "effect/sql/SqlError"
import { type Batch, type Checkpoint, EventStore, type RecordedEvent, isRetryableSqlError } from "@verity/eventstore"
import { checkpointTransaction, type Projection, type TablesContext } from "./Projection.ts"
import type { Registry } from "./Registry.ts"

export interface RunnerOptions {
  /** Identifies this process in status (host:pid). */
  readonly owner: string
  /** Events per batch while live / while building a generation from the history. */
  readonly batchSize: number
  readonly rebuildBatchSize: number
  readonly pollInterval: Duration.Input
  /** How often a runner waiting for a lock tries again. */
  readonly lockRetry: Duration.Input
  readonly heartbeatInterval: Duration.Input
  /** Attempts per event, in isolation, before its stream is parked. */
  readonly maxAttempts: number
  /** Called after every committed batch (in-process read-your-writes, progress displays). */
  readonly onProgress: (progress: Progress) => Effect.Effect<void>
  /**
   * Asked before a caught-up building generation becomes active: `switch`, `refuse` (the callee records
   * why), or `later` (ask again after the next batch). Absent: switch unchecked.
   */
  readonly verifySwitch?: (projection: Projection, generation: number) => Effect.Effect<SwitchVerdict, unknown, EventStore>
}

export interface Progress {
  readonly name: string
  readonly generation: number
  readonly checkpoint: Checkpoint.Checkpoint
  /** Events of the batch just committed. */
  readonly events: number
  readonly caughtUp: boolean
}

export type SwitchVerdict = "switch" | "refuse" | "later"

export type RunOutcome = "retired" | "fenced" | "activated" | "refused"

/** Ends a run that was asked to stop once its generation is active (a one-off rebuild). */
class Activated {
  readonly _tag = "Activated"
}

/** Ends a one-off rebuild whose switch was refused. */
class Refused {
  readonly _tag = "Refused"
}

/** The generation is not ours to write any more (retired, or advanced by another runner). */
class Fenced {
  readonly _tag = "Fenced"
}

/** A run that ended on an error it could not handle; the supervisor logs it and starts over. */
export class RunnerFailure extends Data.TaggedError("RunnerFailure")<{ readonly message: string }> {}

export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = cause.reasons.find((r) => r._tag === "Fail" || r._tag === "Die")
  const value: unknown = error === undefined ? undefined : error._tag === "Fail" ? error.error : error.defect
  if (value instanceof Error) return value.message
  if (typeof value === "object" && value !== null && "message" in value) return String(value.message)
  return String(value)
}

/** Transient: retrying the same batch later can succeed without anyone changing anything. */
const isTransient = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.some((reason) => {
    if (reason._tag !== "Fail") return false
    const error: unknown = reason.error
    if (isSqlError(error)) return isRetryableSqlError(error)
    return typeof error === "object" && error !== null && "_tag" in error && error._tag === "StoreUnavailable" &&
      "retryable" in error && error.retryable === true
  })

const isFenced = (cause: Cause.Cause<unknown>) =>
  cause.reasons.some((reason) => reason._tag === "Fail" && reason.error instanceof Fenced)

const isInterrupted = (cause: Cause.Cause<unknown>) => cause.reasons.some((reason) => reason._tag === "Interrupt")

export const lockKey = (name: string, generation: number) => `verity_projections:${name}:${generation}`

export const make = (sql: SqlClient, registry: Registry, options: RunnerOptions) => {
  /**
   * Holds the generation's advisory lock for as long as the surrounding scope, retrying until it is free.
   * Gives up (false) when the generation is retired meanwhile, or when `untilActive` and another runner
   * has already made it active or had its switch refused.
   */
  const acquireLock = (projection: Projection, generation: number, untilActive = false) =>
    Effect.gen(function*() {
      const connection = yield* sql.reserve
      const key = lockKey(projection.name, generation)
      while (true) {
        const rows = yield* connection.executeValues("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key])
        if (rows[0]?.[0] === true) break
        const current = yield* registry.generation(projection.name, generation)
        if (Option.isNone(current) || current.value.state === "retired") return { locked: false as const }
        if (untilActive && (current.value.state === "active" || current.value.refusal !== null)) return { locked: false as const }
        yield* Effect.sleep(options.lockRetry)
      }
      yield* Effect.addFinalizer(() =>
        connection.executeValues("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]).pipe(Effect.ignore)
      )
      // A dead lock connection means the lock is gone: `lost` fails then, to end the run (the caller starts over).
      const lost: Effect.Effect<never, RunnerFailure> = connection.executeValues("SELECT 1", []).pipe(
        Effect.repeat(Schedule.spaced(options.heartbeatInterval)),
        Effect.andThen(Effect.never),
        Effect.mapError(() => new RunnerFailure({ message: `lost the lock of ${projection.name} generation ${generation}: its connection closed` }))
      )
      return { locked: true as const, lost }
    })

  /** Applies `events` (all, or one by one in savepoints), parks what fails, advances the checkpoint. */
  const applyBatch = (
    projection: Projection,
    generation: number,
    context: TablesContext,
    expected: Checkpoint.Checkpoint,
    batch: Batch,
    isolate: boolean
  ) =>
    Effect.gen(function*() {
      const { parkedEvents, parkedStreams } = registry.tables
      const streams = [...new Set(batch.events.map((e) => e.streamId))]
      const locked = yield* sql<{ readonly stream_id: string }>`
        SELECT stream_id FROM ${parkedStreams}
        WHERE name = ${projection.name} AND generation = ${generation} AND stream_id = ANY(${streams}::text[])
        FOR UPDATE`
      const parked = new Set(locked.map((row) => row.stream_id))
      const toPark: Array<RecordedEvent> = []
      let applied = 0
      if (!isolate) {
        const toApply = batch.events.filter((e) => !parked.has(e.streamId))
        for (const e of batch.events) if (parked.has(e.streamId)) toPark.push(e)
        if (toApply.length > 0) {
          yield* projection.apply(toApply, context).pipe(Effect.provideService(SqlClient, sql))
        }
        applied = toApply.length
      } else {
        for (const event of batch.events) {
          if (parked.has(event.streamId)) {
            toPark.push(event)
            continue
          }
          let error: string | undefined
          for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
            const exit = yield* sql.withTransaction(projection.apply([event], context)).pipe(
              Effect.provideService(SqlClient, sql),
              Effect.exit
            )
            if (Exit.isSuccess(exit)) {
              error = undefined
              break
            }
            if (isTransient(exit.cause) || isInterrupted(exit.cause)) return yield* Effect.failCause(exit.cause)
            error = describeCause(exit.cause)
          }
          if (error === undefined) {
            applied++
            continue
          }
          yield* sql`
            INSERT INTO ${parkedStreams} (name, generation, stream_id, position, event_type, error, attempts)
            VALUES (${projection.name}, ${generation}, ${event.streamId}, ${event.position}, ${event.type}, ${error}, ${options.maxAttempts})`
          yield* Effect.logWarning("projection parked a stream", { projection: projection.name, stream: event.streamId, error })
          parked.add(event.streamId)
          toPark.push(event)
        }
      }
      if (toPark.length > 0) {
        yield* sql`
          INSERT INTO ${parkedEvents} (name, generation, stream_id, position)
          SELECT ${projection.name}, ${generation}, s, p FROM unnest(${toPark.map((e) => e.streamId)}::text[], ${toPark.map((e) => e.position)}::int8[]) AS t(s, p)
          ON CONFLICT DO NOTHING`
      }
      const last = batch.events[batch.events.length - 1]
      const advanced = yield* registry.advance(projection.name, generation, expected, batch.checkpoint, last?.position ?? 0n, applied)
      if (!advanced) return yield* Effect.fail(new Fenced())
    })

  /**
   * Runs the generation until it is retired or fenced. A `building` generation that catches up is
   * activated, and the same run goes on as the active one.
   */
  const run = (
    projection: Projection,
    generation: number,
    runOptions: { readonly stopWhenActive?: boolean } = {}
  ): Effect.Effect<RunOutcome, RunnerFailure, EventStore> =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* EventStore
      const lock = yield* acquireLock(projection, generation, runOptions.stopWhenActive === true)
      const row = yield* registry.generation(projection.name, generation)
      if (Option.isNone(row) || row.value.state === "retired") return "retired" as const
      // Another process built it while we waited for the lock.
      if (!lock.locked) {
        return row.value.state === "active" ? "activated" as const : row.value.refusal !== null ? "refused" as const : "retired" as const
      }
      const refused = yield* Ref.make(row.value.state === "building" && row.value.refusal !== null)
      if (runOptions.stopWhenActive === true && (yield* Ref.get(refused))) return "refused" as const
      const state = yield* Ref.make<"building" | "active">(row.value.state)
      const runnerState = yield* Ref.make("starting")
      const context = registry.context(projection, generation, row.value.state === "building")
      const transaction = checkpointTransaction(projection, store, sql)
      yield* Effect.gen(function*() {
        const label = yield* Ref.get(runnerState)
        yield* registry.heartbeat(projection.name, generation, options.owner, label).pipe(Effect.ignore)
      }).pipe(Effect.repeat(Schedule.spaced(options.heartbeatInterval)), Effect.forkScoped)

      const checkpoint = yield* Ref.make(row.value.checkpoint)
      let lastEmptySave = 0
      const processBatch = (batch: Batch) =>
        Effect.gen(function*() {
          const expected = yield* Ref.get(checkpoint)
          if (batch.events.length === 0) {
            // Only the checkpoint moved (filtered events or the horizon): an active generation saves it now
            // and then, for lag; a building one at once, since catching up is what activates it.
            if (batch.checkpoint === expected) return
            const building = (yield* Ref.get(state)) === "building"
            if (!building && Date.now() - lastEmptySave < 1_000) return
            lastEmptySave = Date.now()
          }
          let isolate = false
          let failures = 0
          while (true) {
            const exit = yield* transaction(applyBatch(projection, generation, context, expected, batch, isolate)).pipe(Effect.exit)
            if (Exit.isSuccess(exit)) break
            const cause = exit.cause
            if (isInterrupted(cause)) return yield* Effect.failCause(cause)
            if (isFenced(cause)) return yield* Effect.fail(new Fenced())
            if (isTransient(cause)) {
              failures++
              yield* Ref.set(runnerState, "stalled")
              yield* registry.recordError(projection.name, generation, describeCause(cause)).pipe(Effect.ignore)
              yield* Effect.sleep(Duration.millis(Math.min(5_000, 50 * 2 ** Math.min(failures, 7))))
              continue
            }
            if (isolate) return yield* Effect.failCause(cause)
            isolate = true
          }
          if (failures > 0) yield* registry.recordError(projection.name, generation, null).pipe(Effect.ignore)
          yield* Ref.set(checkpoint, batch.checkpoint)
          yield* Ref.set(runnerState, batch.caughtUp ? "live" : "catching_up")
          yield* options.onProgress({
            name: projection.name,
            generation,
            checkpoint: batch.checkpoint,
            events: batch.events.length,
            caughtUp: batch.caughtUp
          })
          if (batch.caughtUp && (yield* Ref.get(state)) === "building" && !(yield* Ref.get(refused))) {
            const verdict = options.verifySwitch === undefined ? "switch" : yield* options.verifySwitch(projection, generation)
            if (verdict === "later") return
            if (verdict === "refuse") {
              yield* Ref.set(refused, true)
              if (runOptions.stopWhenActive === true) return yield* Effect.fail(new Refused())
              return
            }
            const activated = yield* registry.activate(projection, generation)
            if (activated) {
              yield* Ref.set(state, "active")
              yield* Effect.logInfo("projection generation activated", { projection: projection.name, generation })
            }
          }
          if (batch.caughtUp && runOptions.stopWhenActive === true && (yield* Ref.get(state)) === "active") {
            return yield* Effect.fail(new Activated())
          }
        })

      const filters = {
        ...(projection.categories === undefined ? {} : { categories: projection.categories }),
        types: projection.eventTypes,
        pollInterval: Duration.toMillis(Duration.fromInputUnsafe(options.pollInterval))
      }
      // Catching up (a new generation, or a runner far behind): bulk batches, and the next page is read
      // while the current one is applied. Once caught up: small batches, for latency.
      const catchUp = store.subscribe({ ...filters, from: row.value.checkpoint, limit: options.rebuildBatchSize }).pipe(
        Stream.takeUntil((batch) => batch.caughtUp),
        Stream.buffer({ capacity: 1 })
      )
      const live = Stream.unwrap(
        Effect.map(Ref.get(checkpoint), (from) => store.subscribe({ ...filters, from, limit: options.batchSize }))
      )
      const outcome = yield* Stream.concat(catchUp, live).pipe(
        Stream.runForEach(processBatch),
        Effect.as<RunOutcome>("retired"),
        Effect.catchIf((error): error is Fenced => error instanceof Fenced, () => Effect.succeed<RunOutcome>("fenced")),
        Effect.catchIf((error): error is Activated => error instanceof Activated, () => Effect.succeed<RunOutcome>("activated")),
        Effect.catchIf((error): error is Refused => error instanceof Refused, () => Effect.succeed<RunOutcome>("refused")),
        Effect.raceFirst(lock.lost)
      )
      return outcome
    })).pipe(
      Effect.catchCause((cause) =>
        isInterrupted(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.fail(new RunnerFailure({ message: describeCause(cause) }))
      )
    )

  return { run, acquireLock }
}

export type Runner = ReturnType<typeof make>
