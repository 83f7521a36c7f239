/**
 * The `Projections` service: runs the registered projections (one supervisor fiber each), reports their
 * status, lets queries wait for their writes (read-your-writes), and gives operators rebuild, verify and
 * parked-stream controls.
 *
 * Generations: a projection's tables live in a generation. The first is created active. A new one is
 * created `building` when the code's projection version differs from the active generation's, or when an
 * operator asks for a rebuild; it is built from the history beside the active one (which keeps serving)
 * and, once caught up, becomes active in one transaction that also switches the readers' views.
 *
 * The switch is verified: before readers move, the new generation is compared with the events (as `verify`
 * does); a mismatch refuses the switch (`SwitchRefused`, with the differing rows) unless the rebuild asked
 * to skip the check. The previous generation is retired; the supervisors apply later erasures to it (see
 * Erasure.ts) and drop it once `retiredGrace` has passed.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Data, Duration, Effect, FiberMap, Layer, Option, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { Checkpoint, EventStore, PersonalData, type RecordedEvent, StoreUnavailable } from "@verity/eventstore"
import * as Os from "node:os"
import * as Migrations from "./Migrations.ts"
import { checkpointTransaction, type Projection } from "./Projection.ts"
import * as Registry from "./Registry.ts"
import * as Erasure from "./Erasure.ts"
import * as Runner from "./Runner.ts"
import * as Verify from "./Verify.ts"
import * as Wait from "./Wait.ts"

export class UnknownProjection extends Schema.TaggedError<UnknownProjection>()("UnknownProjection", {
  name: Schema.String
}) {
  override get message() {
    return `no projection named ${this.name}`
  }
}

export class StreamNotParked extends Schema.TaggedError<StreamNotParked>()("StreamNotParked", {
  name: Schema.String,
  stream: Schema.String
}) {
  override get message() {
    return `stream ${this.stream} is not parked in projection ${this.name}`
  }
}

/** Rebuild and verify replay history: refused for a projection whose `apply` has side effects. */
export class NotReplayable extends Schema.TaggedError<NotReplayable>()("NotReplayable", {
  name: Schema.String
}) {
  override get message() {
    return `projection ${this.name} issues commands: it cannot be rebuilt or verified by replaying history`
  }
}

export class WaitTimedOut extends Schema.TaggedError<WaitTimedOut>()("WaitTimedOut", {
  name: Schema.String,
  target: Schema.String,
  reached: Schema.String
}) {
  override get message() {
    return `projection ${this.name} did not reach ${this.target} in time (at ${this.reached})`
  }
}

/** What a refused switch found: the tables whose rows differ from the events, with the first rows. */
export interface SwitchRefusal {
  readonly checkpoint: string
  readonly tables: ReadonlyArray<Verify.TableReport>
}

/**
 * The new generation differs from the events: readers stay on the current one. `tables` names the
 * differing rows (key, the generation's row, the row recomputed from the events).
 */
export class SwitchRefused extends Schema.TaggedError<SwitchRefused>()("SwitchRefused", {
  name: Schema.String,
  generation: Schema.Number,
  checkpoint: Schema.String,
  tables: Schema.Array(Schema.Struct({
    table: Schema.String,
    differences: Schema.Number,
    rows: Schema.Array(Schema.Struct({
      key: Schema.Record(Schema.String, Schema.Unknown),
      live: Schema.Unknown,
      expected: Schema.Unknown
    }))
  }))
}) {
  override get message() {
    const counts = this.tables.map((t) => `${t.table}: ${t.differences} differing rows`).join(", ")
    const first = this.tables[0]?.rows[0]
    return `switch to generation ${this.generation} of ${this.name} refused: it differs from the events (${counts})` +
      (first === undefined ? "" : `; first key ${JSON.stringify(first.key)}`)
  }
}

export interface RebuildOptions {
  /** Switch without comparing the new generation with the events. */
  readonly skipVerify?: boolean
}

/** An unexpected database failure inside the projection runtime. */
export class ProjectionsError extends Data.TaggedError("ProjectionsError")<{ readonly message: string; readonly cause?: unknown }> {}

export type ProjectionState = "live" | "catching_up" | "stalled" | "parked" | "stopped" | "not_started"

export interface GenerationStatus {
  readonly generation: number
  readonly version: number
  readonly checkpoint: Checkpoint.Checkpoint
  readonly position: string
  readonly eventsApplied: string
  readonly lagEvents: number
  readonly lagCapped: boolean
  readonly lagSeconds: number
  readonly owner: string | null
  readonly heartbeatAgeSeconds: number | null
  readonly runnerState: string | null
  readonly lastError: string | null
  /** Set when the verified switch to this (building) generation was refused: it will not become active. */
  readonly refusal: SwitchRefusal | null
  /** The open appending transaction that committed events of this generation wait behind, if any. */
  readonly heldBackBy: HeldBackBy | null
}

/** Who holds readers back (EventStore `backlog`): end it, or wait for it, to let the projection go on. */
export interface HeldBackBy {
  readonly transactionId: string
  readonly pid: number
  readonly applicationName: string
  readonly state: string
  readonly ageSeconds: number | null
}

export interface ProjectionStatus {
  readonly name: string
  readonly description: string | undefined
  readonly version: number
  readonly state: ProjectionState
  readonly active: GenerationStatus | undefined
  /** A generation being built beside the active one (a rebuild), with its progress. */
  readonly building: GenerationStatus | undefined
  readonly parkedStreams: number
}

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

export interface RebuildProgress {
  readonly generation: number
  readonly events: number
  readonly checkpoint: Checkpoint.Checkpoint
  readonly caughtUp: boolean
}

export interface RebuildReport {
  readonly name: string
  readonly generation: number
  readonly events: number
  readonly seconds: number
  readonly eventsPerSecond: number
}

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
  readonly status: Effect.Effect<ReadonlyArray<ProjectionStatus>, ProjectionsFailure>
  readonly statusOf: (name: string) => Effect.Effect<ProjectionStatus, UnknownProjection | ProjectionsFailure>
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
    options?: RebuildOptions
  ) => Effect.Effect<{ readonly generation: number }, UnknownProjection | NotReplayable | ProjectionsFailure>
  /** Builds a new generation in this fiber at bulk speed, verifies it, switches to it, and returns (the replayer). */
  readonly rebuildNow: (
    name: string,
    onProgress?: (progress: RebuildProgress) => Effect.Effect<void>,
    options?: RebuildOptions
  ) => Effect.Effect<RebuildReport, UnknownProjection | NotReplayable | SwitchRefused | ProjectionsFailure, EventStore>
  /** Recomputes the read model from the events into scratch tables and diffs it against the live one. */
  readonly verify: (name: string) => Effect.Effect<Verify.VerifyReport, UnknownProjection | NotReplayable | ProjectionsFailure, EventStore>
  readonly parked: (name: string) => Effect.Effect<ReadonlyArray<ParkedStream>, UnknownProjection | ProjectionsFailure>
  readonly retry: (name: string, stream: string) => Effect.Effect<RetryOutcome, UnknownProjection | StreamNotParked | ProjectionsFailure, EventStore>
  /** Moves the stream's failing event to the dead letters, then retries the events behind it. */
  readonly skip: (name: string, stream: string, by: string) => Effect.Effect<RetryOutcome, UnknownProjection | StreamNotParked | ProjectionsFailure, EventStore>
  /** Drops the tables of retired generations. */
  readonly prune: (name: string) => Effect.Effect<ReadonlyArray<number>, UnknownProjection | ProjectionsFailure>
}>()("@verity/projections/Projections") {}

const toFailure = (message: string) => (cause: SqlError) => new ProjectionsError({ message: `${message}: ${cause.message}`, cause })

const STALE_HEARTBEAT_SECONDS = 15

export const make = (options: ProjectionsOptions) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const sql = pg.withoutTransforms()
    const store = yield* EventStore
    yield* Migrations.run.pipe(Effect.provideService(SqlClient, sql), Effect.mapError((e) => new ProjectionsError({ message: `migrations failed: ${e.message}`, cause: e })))
    const registry = Registry.make(sql)
    const byName = new Map(options.projections.map((p) => [p.name, p]))
    if (byName.size !== options.projections.length) return yield* Effect.die(new Error("two projections share a name"))
    const owner = options.owner ?? `${Os.hostname()}:${process.pid}`
    const progress = Wait.makeProgress()
    const graceSeconds = Duration.toSeconds(Duration.fromInputUnsafe(options.retiredGrace ?? "30 seconds"))

    /**
     * The verified switch: compares a caught-up building generation with the events; on a mismatch records
     * the refusal (with the differing rows) on the generation and refuses. A process manager is not
     * compared (replaying it would issue commands), nor a generation whose rebuild asked to skip the check.
     *
     * A forget committed after the compared checkpoint makes the events before it read as placeholders,
     * while the generation still holds what it read earlier, until it applies the erasure event that
     * follows: then the difference is not the generation's fault, and the runner asks again after its next
     * batch instead of refusing.
     */
    const verifySwitch = (projection: Projection, generation: number) =>
      Effect.gen(function*() {
        if (projection.sideEffects === true) return "switch" as const
        const row = yield* registry.generation(projection.name, generation)
        if (Option.isNone(row) || !row.value.verifySwitch) return "switch" as const
        const report = yield* Verify.verify(sql, registry, projection, generation)
        if (report.consistent) return "switch" as const
        if (Erasure.redacts(projection)) {
          const erasures = yield* store.readAll({
            from: report.checkpoint,
            limit: 1,
            categories: [PersonalData.ERASURE_CATEGORY],
            types: [PersonalData.ERASURE_EVENT]
          })
          if (erasures.events.length > 0) return "later" as const
        }
        const refusal: SwitchRefusal = { checkpoint: report.checkpoint, tables: report.tables.filter((t) => t.differences > 0) }
        yield* registry.refuse(projection.name, generation, refusal)
        yield* Effect.logError("projection switch refused: the new generation differs from the events", {
          projection: projection.name,
          generation,
          differences: refusal.tables.map((t) => `${t.table}: ${t.differences}`).join(", ")
        })
        return "refuse" as const
      })

    const runnerOptions: Runner.RunnerOptions = {
      owner,
      batchSize: options.batchSize ?? 500,
      rebuildBatchSize: options.rebuildBatchSize ?? 5_000,
      pollInterval: options.pollInterval ?? "500 millis",
      lockRetry: "500 millis",
      heartbeatInterval: "2 seconds",
      maxAttempts: options.maxAttempts ?? 3,
      onProgress: (p) => progress.report(p.name, p.generation, p.checkpoint),
      verifySwitch
    }
    const runner = Runner.make(sql, registry, runnerOptions)

    const find = (name: string) => {
      const projection = byName.get(name)
      return projection === undefined ? Effect.fail(new UnknownProjection({ name })) : Effect.succeed(projection)
    }

    const findReplayable = (name: string) =>
      Effect.flatMap(find(name), (projection) =>
        projection.sideEffects === true ? Effect.fail(new NotReplayable({ name })) : Effect.succeed(projection))

    // --- supervisors ------------------------------------------------------------------------------------------
    /** The generations of `projection` this code should be running now (creating one when needed). */
    const generationsToRun = (projection: Projection) =>
      Effect.gen(function*() {
        const all = yield* registry.generationsOf(projection.name)
        const active = all.find((g) => g.state === "active")
        const building = all.find((g) => g.state === "building" && g.version === projection.version)
        const wanted: Array<number> = []
        if (active === undefined || (active.version !== projection.version && building === undefined)) {
          // First start, or new code whose version has no generation yet: create one.
          const created = yield* registry.createGeneration(projection)
          wanted.push(created.generation)
        } else if (building !== undefined) {
          wanted.push(building.generation)
        }
        if (active !== undefined && active.version === projection.version && !wanted.includes(active.generation)) {
          wanted.push(active.generation)
        }
        return wanted
      })

    const supervise = (projection: Projection) =>
      Effect.gen(function*() {
        const fibers = yield* FiberMap.make<number>()
        const started = new Set<number>()
        const tick = Effect.gen(function*() {
          const wanted = yield* generationsToRun(projection)
          for (const generation of wanted) {
            yield* FiberMap.run(fibers, generation, runner.run(projection, generation).pipe(
              Effect.tap((outcome) => Effect.logDebug("projection run ended", { projection: projection.name, generation, outcome })),
              Effect.catch((error) => Effect.logWarning("projection run failed", { projection: projection.name, generation, error: error.message }))
            ), { onlyIfMissing: true })
            started.add(generation)
          }
          // Generations no longer wanted (retired, or replaced by new code): stop their runners.
          for (const key of started) {
            if (!wanted.includes(key)) {
              yield* FiberMap.remove(fibers, key)
              started.delete(key)
            }
          }
          yield* eraseUnfollowed(projection)
        }).pipe(
          Effect.catch((error) => Effect.logWarning("projection supervisor", { projection: projection.name, error: String(error) }))
        )
        yield* tick.pipe(Effect.repeat(Schedule.spaced(options.discoveryInterval ?? "2 seconds")))
      }).pipe(Effect.scoped)

    /**
     * Erasure across generations: drops retired generations past their grace, then applies the erasure
     * events to every generation no runner follows (retired within the grace, abandoned building ones).
     */
    const eraseUnfollowed = (projection: Projection) =>
      Effect.gen(function*() {
        yield* registry.prune(projection.name, graceSeconds)
        if (!Erasure.redacts(projection)) return
        const unfollowed = Erasure.unfollowed(yield* registry.generationsOf(projection.name), Date.now())
        for (const g of unfollowed) {
          const applied = yield* Erasure.catchUp(sql, registry, projection, g.generation)
          if (applied > 0) {
            yield* Effect.logInfo("erasures applied to a generation no runner follows", { projection: projection.name, generation: g.generation, applied })
          }
        }
      })

    if (options.run !== false) {
      for (const projection of options.projections) {
        yield* supervise(projection).pipe(Effect.provideService(EventStore, store), Effect.forkScoped)
      }
    }

    // --- status -----------------------------------------------------------------------------------------------
    const generationStatus = (projection: Projection, g: Registry.Generation) =>
      Effect.gen(function*() {
        const backlog = yield* store.backlog({
          from: g.checkpoint,
          types: projection.eventTypes,
          ...(projection.categories === undefined ? {} : { categories: projection.categories }),
          max: 1_000_000
        })
        const now = Date.now()
        return {
          generation: g.generation,
          version: g.version,
          checkpoint: g.checkpoint,
          position: g.position.toString(),
          eventsApplied: g.eventsApplied.toString(),
          lagEvents: backlog.events,
          lagCapped: backlog.capped,
          lagSeconds: Option.match(backlog.oldestRecordedAt, { onNone: () => 0, onSome: (at) => Math.max(0, (now - at.getTime()) / 1000) }),
          owner: g.owner,
          heartbeatAgeSeconds: g.heartbeatAt === null ? null : Math.max(0, (now - g.heartbeatAt.getTime()) / 1000),
          runnerState: g.runnerState,
          lastError: g.lastError,
          // Written by `verifySwitch` above from a `SwitchRefusal`.
          refusal: g.refusal === null ? null : g.refusal as SwitchRefusal,
          heldBackBy: Option.match(backlog.heldBackBy, {
            onNone: () => null,
            onSome: (holder): HeldBackBy => ({
              transactionId: holder.transactionId.toString(),
              pid: holder.pid,
              applicationName: holder.applicationName,
              state: holder.state,
              ageSeconds: Option.match(holder.startedAt, {
                onNone: () => null,
                onSome: (at) => Math.max(0, (now - at.getTime()) / 1000)
              })
            })
          })
        } satisfies GenerationStatus
      })

    const statusOf = (name: string) =>
      Effect.gen(function*() {
        const projection = yield* find(name)
        const all = yield* registry.generationsOf(name).pipe(Effect.mapError(toFailure("status")))
        const activeRow = all.find((g) => g.state === "active")
        const buildingRow = all.find((g) => g.state === "building")
        const active = activeRow === undefined ? undefined : yield* generationStatus(projection, activeRow)
        const building = buildingRow === undefined ? undefined : yield* generationStatus(projection, buildingRow)
        const parkedRows = activeRow === undefined ? [] : yield* sql<{ readonly n: bigint }>`
          SELECT count(*) AS n FROM ${registry.tables.parkedStreams} WHERE name = ${name} AND generation = ${activeRow.generation}`.pipe(
          Effect.mapError(toFailure("status"))
        )
        const parkedStreams = Number(parkedRows[0]?.n ?? 0)
        // A refused building generation never takes over: the projection's state is the active one's then.
        const runnerStatus = (building !== undefined && building.refusal === null ? building : undefined) ?? active
        const state: ProjectionState = runnerStatus === undefined
          ? "not_started"
          : runnerStatus.heartbeatAgeSeconds === null || runnerStatus.heartbeatAgeSeconds > STALE_HEARTBEAT_SECONDS
          ? "stopped"
          : runnerStatus.runnerState === "stalled"
          ? "stalled"
          : parkedStreams > 0
          ? "parked"
          : runnerStatus.lagEvents === 0 || runnerStatus.runnerState === "live"
          ? "live"
          : "catching_up"
        return { name, description: projection.description, version: projection.version, state, active, building, parkedStreams } satisfies ProjectionStatus
      })

    const status = Effect.forEach(options.projections, (p) => statusOf(p.name)).pipe(
      Effect.catchTag("UnknownProjection", Effect.die)
    )

    // --- read-your-writes ---------------------------------------------------------------------------------
    const waitFor = (name: string, target: Checkpoint.Checkpoint | bigint, timeout: Duration.Input) =>
      Effect.gen(function*() {
        yield* find(name)
        const goal = typeof target === "bigint"
          ? Option.getOrUndefined(yield* store.checkpointOf(target))
          : target
        // A position no reader can see yet (not committed, or not behind the horizon): wait for it to be.
        const resolve = typeof target === "bigint" && goal === undefined
          ? Effect.map(store.checkpointOf(target), Option.getOrUndefined)
          : Effect.succeed(goal)
        const activeGeneration = Effect.map(registry.activeGeneration(name), Option.getOrUndefined).pipe(
          Effect.mapError(toFailure("waitFor"))
        )
        const stored = (generation: number) =>
          registry.generation(name, generation).pipe(
            Effect.map((g) => (Option.isNone(g) ? undefined : g.value.checkpoint)),
            Effect.mapError(toFailure("waitFor"))
          )
        let reached: Checkpoint.Checkpoint | undefined
        const done = yield* Effect.gen(function*() {
          let wanted = goal
          let generation = yield* activeGeneration
          let woken = false
          while (true) {
            const ticket = yield* progress.ticket
            wanted ??= yield* resolve
            // After a wake-up by a runner of this process, its progress is in memory: no query. Otherwise
            // (first pass, or 25 ms without one) ask the database, which knows every process's runners and
            // a rebuild's new active generation.
            const local = generation === undefined ? undefined : progress.latest(name, generation)
            if (wanted !== undefined && local !== undefined && Checkpoint.hasReached(local, wanted)) return true
            if (!woken) {
              generation = yield* activeGeneration
              reached = generation === undefined ? undefined : yield* stored(generation)
              if (wanted !== undefined && reached !== undefined && Checkpoint.hasReached(reached, wanted)) return true
            } else {
              reached = local ?? reached
            }
            woken = Option.isSome(yield* Effect.timeoutOption(ticket, "25 millis"))
          }
        }).pipe(Effect.timeoutOption(timeout))
        if (Option.isNone(done)) {
          return yield* new WaitTimedOut({ name, target: String(target), reached: reached ?? "nothing" })
        }
      })

    // --- operator controls --------------------------------------------------------------------------------
    const rebuild = (name: string, rebuildOptions: RebuildOptions = {}) =>
      Effect.gen(function*() {
        const projection = yield* findReplayable(name)
        const verify = rebuildOptions.skipVerify !== true
        const created = yield* sql.withTransaction(Effect.gen(function*() {
          const all = yield* registry.generationsOf(name)
          const existing = all.find((g) => g.state === "building" && g.version === projection.version)
          if (existing !== undefined && existing.refusal === null) {
            // Resuming a rebuild: the latest request decides whether its switch is verified.
            if (existing.verifySwitch !== verify) yield* registry.setVerifySwitch(name, existing.generation, verify)
            return existing
          }
          // A refused generation never becomes active: retire it (dropped after the grace) and start over.
          if (existing !== undefined) yield* registry.retire(name, existing.generation)
          // Force a new generation even though the version is unchanged (e.g. to repair a read model).
          return yield* registry.createGeneration({ ...projection, version: projection.version }, true, verify)
        })).pipe(Effect.mapError(toFailure("rebuild")))
        return { generation: created.generation }
      })

    const rebuildNow = (name: string, onProgress?: (progress: RebuildProgress) => Effect.Effect<void>, rebuildOptions: RebuildOptions = {}) =>
      Effect.gen(function*() {
        const projection = yield* find(name)
        const { generation } = yield* rebuild(name, rebuildOptions)
        let events = 0
        const started = Date.now()
        const bulk = Runner.make(sql, registry, {
          ...runnerOptions,
          onProgress: (p) =>
            Effect.gen(function*() {
              events += p.events
              yield* progress.report(p.name, p.generation, p.checkpoint)
              if (onProgress !== undefined) yield* onProgress({ generation: p.generation, events, checkpoint: p.checkpoint, caughtUp: p.caughtUp })
            })
        })
        const outcome = yield* bulk.run(projection, generation, { stopWhenActive: true }).pipe(
          Effect.mapError((e) => new ProjectionsError({ message: `rebuild of ${name} failed: ${e.message}` }))
        )
        if (outcome === "refused") {
          const row = yield* registry.generation(name, generation).pipe(Effect.mapError(toFailure("rebuild")))
          // Written by `verifySwitch` above from a `SwitchRefusal`.
          const refusal = Option.getOrUndefined(row)?.refusal as SwitchRefusal | null | undefined
          return yield* new SwitchRefused({
            name,
            generation,
            checkpoint: refusal?.checkpoint ?? "",
            tables: (refusal?.tables ?? []).map((t) => ({ ...t, rows: t.rows.map((r) => ({ key: r.key, live: r.live ?? null, expected: r.expected ?? null })) }))
          })
        }
        if (outcome !== "activated") {
          return yield* new ProjectionsError({ message: `rebuild of ${name} ended without switching (${outcome})` })
        }
        const seconds = (Date.now() - started) / 1000
        return { name, generation, events, seconds, eventsPerSecond: seconds > 0 ? events / seconds : events }
      })

    const verify = (name: string) =>
      Effect.gen(function*() {
        const projection = yield* findReplayable(name)
        return yield* Verify.verify(sql, registry, projection).pipe(
          Effect.mapError((e) => new ProjectionsError({ message: `verify of ${name} failed: ${e.message}`, cause: e }))
        )
      })

    const parked = (name: string) =>
      Effect.gen(function*() {
        yield* find(name)
        const rows = yield* sql<{
          readonly stream_id: string
          readonly generation: number
          readonly position: bigint
          readonly event_type: string
          readonly error: string
          readonly attempts: number
          readonly parked_at: Date
          readonly waiting: bigint
        }>`
          SELECT s.*, (SELECT count(*) FROM ${registry.tables.parkedEvents} e
            WHERE e.name = s.name AND e.generation = s.generation AND e.stream_id = s.stream_id) AS waiting
          FROM ${registry.tables.parkedStreams} s
          JOIN ${registry.tables.generations} g ON g.name = s.name AND g.generation = s.generation AND g.state <> 'retired'
          WHERE s.name = ${name} ORDER BY s.parked_at`.pipe(Effect.mapError(toFailure("parked")))
        return rows.map((row) => ({
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

    const release = (name: string, stream: string, skipBy: string | undefined) =>
      Effect.gen(function*() {
        const projection = yield* find(name)
        const { deadLetters, generations, parkedEvents, parkedStreams } = registry.tables
        return yield* checkpointTransaction(projection, store, sql)(Effect.gen(function*() {
          const rows = yield* sql<{ readonly generation: number; readonly error: string; readonly attempts: number }>`
            SELECT s.generation, s.error, s.attempts FROM ${parkedStreams} s
            JOIN ${generations} g ON g.name = s.name AND g.generation = s.generation AND g.state <> 'retired'
            WHERE s.name = ${name} AND s.stream_id = ${stream}
            ORDER BY s.generation DESC LIMIT 1
            FOR UPDATE OF s`
          const head = rows[0]
          if (head === undefined) return yield* new StreamNotParked({ name, stream })
          const generation = head.generation
          const positions = new Set((yield* sql<{ readonly position: bigint }>`
            SELECT position FROM ${parkedEvents} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`)
            .map((row) => row.position))
          const events: ReadonlyArray<RecordedEvent> = (yield* store.readStream(stream).pipe(
            Effect.catchTag("StreamNotFound", () => Effect.succeed([] as ReadonlyArray<RecordedEvent>)),
            Effect.mapError((e) => new ProjectionsError({ message: e.message, cause: e }))
          )).filter((e) => positions.has(e.position))
          const context = registry.context(projection, generation, false)
          let applied = 0
          let skipped = 0
          let error: string | undefined
          for (const [index, event] of events.entries()) {
            if (index === 0 && skipBy !== undefined) {
              yield* sql`
                INSERT INTO ${deadLetters} (name, generation, stream_id, position, event_type, error, skipped_by)
                VALUES (${name}, ${generation}, ${stream}, ${event.position}, ${event.type}, ${head.error}, ${skipBy})`
              skipped++
            } else {
              const exit = yield* sql.withTransaction(projection.apply([event], context)).pipe(
                Effect.provideService(SqlClient, sql),
                Effect.exit
              )
              if (exit._tag === "Failure") {
                error = Runner.describeCause(exit.cause)
                yield* sql`
                  UPDATE ${parkedStreams} SET position = ${event.position}, event_type = ${event.type}, error = ${error},
                    attempts = attempts + 1, parked_at = now()
                  WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`
                break
              }
              applied++
            }
            yield* sql`DELETE FROM ${parkedEvents}
              WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream} AND position = ${event.position}`
          }
          if (error === undefined) {
            yield* sql`DELETE FROM ${parkedEvents} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`
            yield* sql`DELETE FROM ${parkedStreams} WHERE name = ${name} AND generation = ${generation} AND stream_id = ${stream}`
          }
          return { resumed: error === undefined, applied, skipped, error }
        })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(toFailure("parked stream")(e))))
      })

    const prune = (name: string) =>
      Effect.gen(function*() {
        yield* find(name)
        return yield* registry.prune(name).pipe(Effect.mapError(toFailure("prune")))
      })

    return Projections.of({
      definitions: options.projections,
      status,
      statusOf,
      waitFor: (name, target, timeout) => waitFor(name, target, timeout),
      rebuild: (name, rebuildOptions) => rebuild(name, rebuildOptions),
      rebuildNow,
      verify,
      parked,
      retry: (name, stream) => release(name, stream, undefined),
      skip: (name, stream, by) => release(name, stream, by),
      prune
    })
  })

/** Needs a `PgClient` and the `EventStore` (the protected one when personal data is encrypted). */
export const layer = (options: ProjectionsOptions) => Layer.effect(Projections, make(options))

/** Re-exported for callers that name the runtime's error types. */
export { StoreUnavailable }
