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
 *
 * The lock is Lock.ts, the failure classification Failures.ts, the isolate-and-park step Parking.ts.
 */
import { type Batch, type Checkpoint, EventStore } from "@verity/eventstore"
import { Clock, Duration, Effect, Exit, Option, Ref, Schedule, Schema, Stream } from "effect"
import type { Cause } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { describeCause, Fenced, isFenced, isInterrupted, isTransient, RunnerFailure } from "./Failures.ts"
import * as Lock from "./Lock.ts"
import * as Parking from "./Parking.ts"
import { checkpointTransaction, type Projection, type TablesContext } from "./Projection.ts"
import type { Registry } from "./Registry.ts"

/** Re-exported under their former home: other modules name them from here. */
export { describeCause, RunnerFailure }
export { lockKey } from "./Lock.ts"

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

/**
 * How a run ended: `retired` (its generation was), `fenced` (someone else wrote it), `activated` (a run
 * asked to stop once its generation is active), `refused` (such a run whose switch was refused).
 */
export type RunOutcome = "retired" | "fenced" | "activated" | "refused"

/** Empty batches (only the checkpoint moved) of an active generation are saved at most this often. */
const EMPTY_SAVE_INTERVAL_MILLIS = 1_000

/** Transient failures and interruption end an event's isolated attempts: the whole batch is retried. */
const isRunnerFailure = Schema.is(RunnerFailure)

const retriesBatch = (cause: Cause.Cause<unknown>) => isTransient(cause) || isInterrupted(cause)

export const make = (sql: SqlClient, registry: Registry, options: RunnerOptions) => {
  const parking = Parking.make(sql, registry.tables)
  const lockOptions: Lock.LockOptions = { retry: options.lockRetry, heartbeatInterval: options.heartbeatInterval }
  const acquireLock = (projection: Projection, generation: number, untilActive = false) =>
    Lock.acquire(sql, registry, lockOptions, projection, generation, untilActive)

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
      const streams = [...new Set(batch.events.map((e) => e.streamId))]
      const parked = yield* parking.lockParked(projection.name, generation, streams)
      let applied = 0
      if (!isolate) {
        const toApply = batch.events.filter((e) => !parked.has(e.streamId))
        if (toApply.length > 0) {
          yield* projection.apply(toApply, context).pipe(Effect.provideService(SqlClient, sql))
        }
        yield* parking.holdBack(projection.name, generation, batch.events.filter((e) => parked.has(e.streamId)))
        applied = toApply.length
      } else {
        applied = yield* parking.applyEach(projection, generation, context, batch.events, parked, options.maxAttempts, retriesBatch)
      }
      const last = batch.events[batch.events.length - 1]
      const advanced = yield* registry.advance(projection.name, generation, expected, batch.checkpoint, last?.position ?? 0n, applied)
      if (!advanced) return yield* new Fenced({ projection: projection.name, generation })
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
      const stopWhenActive = runOptions.stopWhenActive === true
      const lock = yield* acquireLock(projection, generation, stopWhenActive)
      const row = yield* registry.generation(projection.name, generation)
      if (Option.isNone(row) || row.value.state === "retired") return "retired" as const
      // Another process built it while we waited for the lock.
      if (!lock.locked) {
        return row.value.state === "active" ? "activated" as const : row.value.refusal !== null ? "refused" as const : "retired" as const
      }
      const refused = yield* Ref.make(row.value.state === "building" && row.value.refusal !== null)
      if (stopWhenActive && (yield* Ref.get(refused))) return "refused" as const
      const state = yield* Ref.make<"building" | "active">(row.value.state)
      const runnerState = yield* Ref.make("starting")
      const context = registry.context(projection, generation, row.value.state === "building")
      const transaction = checkpointTransaction(projection, store, sql)
      yield* Effect.gen(function*() {
        const label = yield* Ref.get(runnerState)
        yield* registry.heartbeat(projection.name, generation, options.owner, label).pipe(Effect.ignore)
      }).pipe(Effect.repeat(Schedule.spaced(options.heartbeatInterval)), Effect.forkScoped)

      const checkpoint = yield* Ref.make(row.value.checkpoint)
      let lastEmptySave = Number.NEGATIVE_INFINITY

      /** Commits one batch; resolves to the run's outcome when the run ends here. */
      const processBatch = (batch: Batch) =>
        Effect.gen(function*() {
          const expected = yield* Ref.get(checkpoint)
          if (batch.events.length === 0) {
            // Only the checkpoint moved (filtered events or the horizon): an active generation saves it now
            // and then, for lag; a building one at once, since catching up is what activates it.
            if (batch.checkpoint === expected) return Option.none<RunOutcome>()
            const building = (yield* Ref.get(state)) === "building"
            const now = yield* Clock.currentTimeMillis
            if (!building && now - lastEmptySave < EMPTY_SAVE_INTERVAL_MILLIS) return Option.none<RunOutcome>()
            lastEmptySave = now
          }
          let isolate = false
          let failures = 0
          while (true) {
            const exit = yield* transaction(applyBatch(projection, generation, context, expected, batch, isolate)).pipe(Effect.exit)
            if (Exit.isSuccess(exit)) break
            const cause = exit.cause
            if (isInterrupted(cause)) return yield* Effect.failCause(cause)
            if (isFenced(cause)) return Option.some<RunOutcome>("fenced")
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
            if (verdict === "later") return Option.none<RunOutcome>()
            if (verdict === "refuse") {
              yield* Ref.set(refused, true)
              return stopWhenActive ? Option.some<RunOutcome>("refused") : Option.none<RunOutcome>()
            }
            const activated = yield* registry.activate(projection, generation)
            if (activated) {
              yield* Ref.set(state, "active")
              yield* Effect.logInfo("projection generation activated", { projection: projection.name, generation })
            }
          }
          if (batch.caughtUp && stopWhenActive && (yield* Ref.get(state)) === "active") return Option.some<RunOutcome>("activated")
          return Option.none<RunOutcome>()
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
      // The log ending (it does not while the store is up) leaves the generation as retired.
      let outcome: RunOutcome = "retired"
      yield* Stream.concat(catchUp, live).pipe(
        Stream.runForEachWhile((batch) =>
          Effect.map(processBatch(batch), (ended) => {
            if (Option.isNone(ended)) return true
            outcome = ended.value
            return false
          })
        ),
        Effect.raceFirst(lock.lost)
      )
      return outcome
    })).pipe(
      Effect.catchCause((cause) => {
        // An interruption carries no failure of ours: it passes through as it is.
        if (isInterrupted(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        // A lost lock is a `RunnerFailure` already.
        for (const reason of cause.reasons) {
          if (reason._tag === "Fail" && isRunnerFailure(reason.error)) return Effect.fail(reason.error)
        }
        return Effect.fail(new RunnerFailure({ reason: "Failed", projection: projection.name, generation, detail: describeCause(cause) }))
      }),
      Effect.withSpan("Runner.run", { attributes: { projection: projection.name, generation } })
    )

  return { run, acquireLock }
}

export type Runner = ReturnType<typeof make>
