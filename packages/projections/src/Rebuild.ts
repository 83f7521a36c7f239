/**
 * Rebuilds and the verified switch. `rebuild` starts (or resumes) a new generation that the supervisors'
 * runners build beside the active one; `rebuildNow` builds it in the calling fiber at bulk speed and
 * returns once readers are switched (the replayer). Before readers move, `verifySwitch` compares the new
 * generation with the events (as `verify` does); a mismatch refuses the switch and records the differing
 * rows, unless the rebuild asked to skip the check. Projections with side effects are never replayed.
 */
import type { Checkpoint, EventStore } from "@verity/eventstore"
import { PersonalData } from "@verity/eventstore"
import { Clock, Effect, Option } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import * as Erasure from "./Erasure.ts"
import type { Projection } from "./Projection.ts"
import { type NotReplayable, ProjectionsError, type SwitchRefusal, SwitchRefused, type UnknownProjection } from "./ProjectionsError.ts"
import type { Registry } from "./Registry.ts"
import * as Runner from "./Runner.ts"
import * as Verify from "./Verify.ts"
import type { Progress } from "./Wait.ts"

export interface RebuildOptions {
  /** Switch without comparing the new generation with the events. */
  readonly skipVerify?: boolean
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

/**
 * The verified switch: compares a caught-up building generation with the events; on a mismatch records
 * the refusal (with the differing rows) on the generation and refuses. A process manager is not compared
 * (replaying it would issue commands), nor a generation whose rebuild asked to skip the check.
 *
 * A forget committed after the compared checkpoint makes the events before it read as placeholders, while
 * the generation still holds what it read earlier, until it applies the erasure event that follows: then
 * the difference is not the generation's fault, and the runner asks again after its next batch instead of
 * refusing.
 */
export const verifySwitch = (sql: SqlClient, registry: Registry, store: EventStore["Service"]) =>
  Effect.fn("Projections.verifySwitch")(function*(projection: Projection, generation: number) {
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

export interface RebuildDeps {
  readonly sql: SqlClient
  readonly registry: Registry
  readonly progress: Progress
  readonly runnerOptions: Runner.RunnerOptions
  readonly find: (name: string) => Effect.Effect<Projection, UnknownProjection>
  readonly findReplayable: (name: string) => Effect.Effect<Projection, UnknownProjection | NotReplayable>
}

export const make = ({ find, findReplayable, progress, registry, runnerOptions, sql }: RebuildDeps) => {
  const rebuild = Effect.fn("Projections.rebuild")(function*(name: string, options: RebuildOptions = {}) {
    const projection = yield* findReplayable(name)
    const verify = options.skipVerify !== true
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
      return yield* registry.createGeneration(projection, true, verify)
    })).pipe(Effect.mapError(ProjectionsError.database("rebuild", name)))
    return { generation: created.generation }
  })

  /** The refusal `verifySwitch` recorded on `generation`, as the error `rebuildNow` fails with. */
  const refused = (name: string, generation: number) =>
    Effect.gen(function*() {
      const row = yield* registry.generation(name, generation).pipe(Effect.mapError(ProjectionsError.database("rebuild", name)))
      // Written by `verifySwitch` from a `SwitchRefusal`; the registry keeps it as opaque JSON.
      const refusal = Option.getOrUndefined(row)?.refusal as SwitchRefusal | null | undefined
      return new SwitchRefused({
        name,
        generation,
        checkpoint: refusal?.checkpoint ?? "",
        tables: (refusal?.tables ?? []).map((t) => ({
          ...t,
          rows: t.rows.map((r) => ({ key: r.key, live: r.live ?? null, expected: r.expected ?? null }))
        }))
      })
    })

  const rebuildNow = Effect.fn("Projections.rebuildNow")(function*(
    name: string,
    onProgress?: (progress: RebuildProgress) => Effect.Effect<void>,
    options: RebuildOptions = {}
  ) {
    const projection = yield* find(name)
    const { generation } = yield* rebuild(name, options)
    let events = 0
    const started = yield* Clock.currentTimeMillis
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
      Effect.mapError((e) => new ProjectionsError({ reason: "RunFailed", operation: "rebuild", projection: name, detail: e.message, cause: e }))
    )
    if (outcome === "refused") return yield* (yield* refused(name, generation))
    if (outcome !== "activated") {
      return yield* new ProjectionsError({
        reason: "NotSwitched",
        operation: "rebuild",
        projection: name,
        detail: `ended without switching (${outcome})`
      })
    }
    const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
    const report: RebuildReport = { name, generation, events, seconds, eventsPerSecond: seconds > 0 ? events / seconds : events }
    return report
  })

  const verify = Effect.fn("Projections.verify")(function*(name: string) {
    const projection = yield* findReplayable(name)
    return yield* Verify.verify(sql, registry, projection).pipe(
      Effect.mapError(ProjectionsError.of("verify", name))
    )
  })

  return { rebuild, rebuildNow, verify }
}
