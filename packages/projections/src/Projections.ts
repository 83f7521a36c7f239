/**
 * The `Projections` service: runs the registered projections (one supervisor fiber each), reports their
 * status, lets queries wait for their writes (read-your-writes), and gives operators rebuild, verify and
 * parked-stream controls. This module only composes them; each concern has a module of its own:
 *
 * - Supervisor.ts: which generations to run, one runner fiber each (Runner.ts: lock, batches, parking);
 * - Status.ts: generation status and the projection's state;
 * - Wait.ts: read-your-writes;
 * - Rebuild.ts: rebuild, rebuildNow, verify and the verified switch;
 * - ParkedStreams.ts: parked, retry, skip (sharing the runner's isolate-and-park step, Parking.ts);
 * - ProjectionsError.ts: the errors.
 *
 * Generations: a projection's tables live in a generation. The first is created active. A new one is
 * created `building` when the code's projection version differs from the active generation's, or when an
 * operator asks for a rebuild; it is built from the history beside the active one (which keeps serving)
 * and, once caught up and verified, becomes active in one transaction that also switches the readers'
 * views. The previous generation is retired; the supervisors apply later erasures to it (see Erasure.ts)
 * and drop it once `retiredGrace` has passed.
 */
import { PgClient } from "@effect/sql-pg"
import { type Checkpoint, EventStore, StoreUnavailable } from "@verity/eventstore"
import { Context, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Os from "node:os"
import * as Migrations from "./Migrations.ts"
import * as ParkedStreams from "./ParkedStreams.ts"
import * as Parking from "./Parking.ts"
import type { Projection } from "./Projection.ts"
import {
  NotReplayable,
  ProjectionsError,
  type StreamNotParked,
  type SwitchRefused,
  UnknownProjection,
  type WaitTimedOut
} from "./ProjectionsError.ts"
import * as Rebuild from "./Rebuild.ts"
import * as Registry from "./Registry.ts"
import * as Runner from "./Runner.ts"
import * as Status from "./Status.ts"
import * as Supervisor from "./Supervisor.ts"
import type * as Verify from "./Verify.ts"
import * as Wait from "./Wait.ts"

export type { ParkedStream, RetryOutcome } from "./ParkedStreams.ts"
export {
  NotReplayable,
  ProjectionsError,
  ProjectionsErrorReason,
  StreamNotParked,
  type SwitchRefusal,
  SwitchRefused,
  UnknownProjection,
  WaitTimedOut
} from "./ProjectionsError.ts"
export type { RebuildOptions, RebuildProgress, RebuildReport } from "./Rebuild.ts"
export { type GenerationStatus, type HeldBackBy, type ProjectionState, type ProjectionStatus, stateOf } from "./Status.ts"
/** Re-exported for callers that name the runtime's error types. */
export { StoreUnavailable }

export interface ProjectionsOptions {
  readonly projections: ReadonlyArray<Projection>
  /** Run the projections in this process (default true); false keeps only status and controls. */
  readonly run?: boolean
  readonly owner?: string
  readonly batchSize?: number
  readonly rebuildBatchSize?: number
  readonly pollInterval?: Duration.Input
  readonly maxAttempts?: number
  /** How often supervisors look for generations to start or stop (default 2 s). */
  readonly discoveryInterval?: Duration.Input
  /**
   * How long a retired generation's tables are kept after the switch before the supervisors drop them
   * (default 30 s: queries still running on them finish). Erasures reach them meanwhile.
   */
  readonly retiredGrace?: Duration.Input
}

type ProjectionsFailure = ProjectionsError | StoreUnavailable

export class Projections extends Context.Service<Projections, {
  readonly definitions: ReadonlyArray<Projection>
  readonly status: Effect.Effect<ReadonlyArray<Status.ProjectionStatus>, ProjectionsFailure>
  readonly statusOf: (name: string) => Effect.Effect<Status.ProjectionStatus, UnknownProjection | ProjectionsFailure>
  /** Waits until the projection's readers see everything up to `target` (a checkpoint or a position). */
  readonly waitFor: (
    name: string,
    target: Checkpoint.Checkpoint | bigint,
    timeout: Duration.Input
  ) => Effect.Effect<void, UnknownProjection | WaitTimedOut | ProjectionsFailure>
  /**
   * Starts a new generation; runners build it beside the active one and switch when it has caught up and
   * matches the events (unless `skipVerify`). A refused building generation is retired and replaced.
   */
  readonly rebuild: (
    name: string,
    options?: Rebuild.RebuildOptions
  ) => Effect.Effect<{ readonly generation: number }, UnknownProjection | NotReplayable | ProjectionsFailure>
  /** Builds a new generation in this fiber at bulk speed, verifies it, switches to it, and returns (the replayer). */
  readonly rebuildNow: (
    name: string,
    onProgress?: (progress: Rebuild.RebuildProgress) => Effect.Effect<void>,
    options?: Rebuild.RebuildOptions
  ) => Effect.Effect<Rebuild.RebuildReport, UnknownProjection | NotReplayable | SwitchRefused | ProjectionsFailure, EventStore>
  /** Recomputes the read model from the events into scratch tables and diffs it against the live one. */
  readonly verify: (name: string) => Effect.Effect<Verify.VerifyReport, UnknownProjection | NotReplayable | ProjectionsFailure, EventStore>
  readonly parked: (name: string) => Effect.Effect<ReadonlyArray<ParkedStreams.ParkedStream>, UnknownProjection | ProjectionsFailure>
  readonly retry: (
    name: string,
    stream: string
  ) => Effect.Effect<ParkedStreams.RetryOutcome, UnknownProjection | StreamNotParked | ProjectionsFailure, EventStore>
  /** Moves the stream's failing event to the dead letters, then retries the events behind it. */
  readonly skip: (
    name: string,
    stream: string,
    by: string
  ) => Effect.Effect<ParkedStreams.RetryOutcome, UnknownProjection | StreamNotParked | ProjectionsFailure, EventStore>
  /** Drops the tables of retired generations. */
  readonly prune: (name: string) => Effect.Effect<ReadonlyArray<number>, UnknownProjection | ProjectionsFailure>
}>()("@verity/projections/Projections") {}

export const make = (options: ProjectionsOptions) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const sql = pg.withoutTransforms()
    const store = yield* EventStore
    yield* Migrations.run.pipe(
      Effect.provideService(SqlClient, sql),
      Effect.mapError((e) => new ProjectionsError({ reason: "Migration", operation: "migrations", detail: e.message, cause: e }))
    )
    const registry = Registry.make(sql)
    const parking = Parking.make(sql, registry.tables)
    const byName = new Map(options.projections.map((p) => [p.name, p]))
    if (byName.size !== options.projections.length) return yield* Effect.die(new Error("two projections share a name"))
    const progress = Wait.makeProgress()

    const find = (name: string): Effect.Effect<Projection, UnknownProjection> => {
      const projection = byName.get(name)
      return projection === undefined ? Effect.fail(new UnknownProjection({ name })) : Effect.succeed(projection)
    }
    const findReplayable = (name: string): Effect.Effect<Projection, UnknownProjection | NotReplayable> =>
      Effect.flatMap(find(name), (projection) =>
        projection.sideEffects === true ? Effect.fail(new NotReplayable({ name })) : Effect.succeed(projection))

    const runnerOptions: Runner.RunnerOptions = {
      owner: options.owner ?? `${Os.hostname()}:${process.pid}`,
      batchSize: options.batchSize ?? 500,
      rebuildBatchSize: options.rebuildBatchSize ?? 5_000,
      pollInterval: options.pollInterval ?? "500 millis",
      lockRetry: "500 millis",
      heartbeatInterval: "2 seconds",
      maxAttempts: options.maxAttempts ?? 3,
      onProgress: (p) =>
        progress.report(p.name, p.generation, p.checkpoint),
      verifySwitch: Rebuild.verifySwitch(sql, registry, store)
    }

    if (options.run !== false) {
      const supervisor = Supervisor.make({
        sql,
        registry,
        runner: Runner.make(sql, registry, runnerOptions),
        discoveryInterval: options.discoveryInterval ?? "2 seconds",
        graceSeconds: Duration.toSeconds(Duration.fromInputUnsafe(options.retiredGrace ?? "30 seconds"))
      })
      for (const projection of options.projections) {
        yield* supervisor.supervise(projection).pipe(Effect.provideService(EventStore, store), Effect.forkScoped)
      }
    }

    const { status, statusOf } = Status.make({ store, registry, parking, projections: options.projections, find })
    const { rebuild, rebuildNow, verify } = Rebuild.make({ sql, registry, progress, runnerOptions, find, findReplayable })
    const { parked, retry, skip } = ParkedStreams.make({ sql, store, registry, parking, find })

    const prune = Effect.fn("Projections.prune")(function*(name: string) {
      yield* find(name)
      return yield* registry.prune(name).pipe(Effect.mapError(ProjectionsError.database("prune", name)))
    })

    return Projections.of({
      definitions: options.projections,
      status,
      statusOf,
      waitFor: Wait.make({ store, registry, progress, find }),
      rebuild,
      rebuildNow,
      verify,
      parked,
      retry,
      skip,
      prune
    })
  })

/** Needs a `PgClient` and the `EventStore` (the protected one when personal data is encrypted). */
export const layer = (options: ProjectionsOptions) => Layer.effect(Projections, make(options))
