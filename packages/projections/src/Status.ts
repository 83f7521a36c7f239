/**
 * Status: what each projection's generations are doing (position, lag, heartbeat, refusal, who holds
 * readers back) and the projection's state in one word. `stateOf` is pure: the state follows from the
 * generations' status and the number of parked streams alone.
 */
import type { Checkpoint, EventStore } from "@verity/eventstore"
import { Clock, Effect, Option } from "effect"
import type { Parking } from "./Parking.ts"
import type { Projection } from "./Projection.ts"
import { ProjectionsError, type SwitchRefusal, type UnknownProjection } from "./ProjectionsError.ts"
import type * as Registry from "./Registry.ts"

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

/** A runner whose heartbeat is older than this counts as stopped. */
export const STALE_HEARTBEAT_SECONDS = 15

/**
 * The projection's state, from its generations and its parked streams (of the active generation). The
 * runner that matters is the building generation's while a rebuild is under way, the active one's
 * otherwise: a refused building generation never takes over.
 */
export const stateOf = (
  generations: { readonly active: GenerationStatus | undefined; readonly building: GenerationStatus | undefined },
  parkedStreams: number
): ProjectionState => {
  const { active, building } = generations
  const runner = building !== undefined && building.refusal === null ? building : active
  if (runner === undefined) return "not_started"
  if (runner.heartbeatAgeSeconds === null || runner.heartbeatAgeSeconds > STALE_HEARTBEAT_SECONDS) return "stopped"
  if (runner.runnerState === "stalled") return "stalled"
  if (parkedStreams > 0) return "parked"
  if (runner.lagEvents === 0 || runner.runnerState === "live") return "live"
  return "catching_up"
}

const secondsSince = (now: number, at: Date) => Math.max(0, (now - at.getTime()) / 1000)

/** One generation's status: its registry row, and its lag measured against the log now. */
export const generationStatus = Effect.fn("Projections.generationStatus")(function*(
  store: EventStore["Service"],
  projection: Projection,
  g: Registry.Generation
) {
  const backlog = yield* store.backlog({
    from: g.checkpoint,
    types: projection.eventTypes,
    ...(projection.categories === undefined ? {} : { categories: projection.categories }),
    max: 1_000_000
  })
  const now = yield* Clock.currentTimeMillis
  const status: GenerationStatus = {
    generation: g.generation,
    version: g.version,
    checkpoint: g.checkpoint,
    position: g.position.toString(),
    eventsApplied: g.eventsApplied.toString(),
    lagEvents: backlog.events,
    lagCapped: backlog.capped,
    lagSeconds: Option.match(backlog.oldestRecordedAt, { onNone: () => 0, onSome: (at) => secondsSince(now, at) }),
    owner: g.owner,
    heartbeatAgeSeconds: g.heartbeatAt === null ? null : secondsSince(now, g.heartbeatAt),
    runnerState: g.runnerState,
    lastError: g.lastError,
    // Written by `Rebuild.verifySwitch` from a `SwitchRefusal`; the registry keeps it as opaque JSON.
    refusal: g.refusal === null ? null : g.refusal as SwitchRefusal,
    heldBackBy: Option.match(backlog.heldBackBy, {
      onNone: () => null,
      onSome: (holder): HeldBackBy => ({
        transactionId: holder.transactionId.toString(),
        pid: holder.pid,
        applicationName: holder.applicationName,
        state: holder.state,
        ageSeconds: Option.match(holder.startedAt, { onNone: () => null, onSome: (at) => secondsSince(now, at) })
      })
    })
  }
  return status
})

export interface StatusDeps {
  readonly store: EventStore["Service"]
  readonly registry: Registry.Registry
  readonly parking: Parking
  readonly projections: ReadonlyArray<Projection>
  readonly find: (name: string) => Effect.Effect<Projection, UnknownProjection>
}

export const make = ({ find, parking, projections, registry, store }: StatusDeps) => {
  const statusOf = Effect.fn("Projections.statusOf")(function*(name: string) {
    const projection = yield* find(name)
    const all = yield* registry.generationsOf(name).pipe(Effect.mapError(ProjectionsError.database("status")))
    const activeRow = all.find((g) => g.state === "active")
    const buildingRow = all.find((g) => g.state === "building")
    const active = activeRow === undefined ? undefined : yield* generationStatus(store, projection, activeRow)
    const building = buildingRow === undefined ? undefined : yield* generationStatus(store, projection, buildingRow)
    const parkedStreams = activeRow === undefined
      ? 0
      : yield* parking.count(name, activeRow.generation).pipe(Effect.mapError(ProjectionsError.database("status")))
    const status: ProjectionStatus = {
      name,
      description: projection.description,
      version: projection.version,
      state: stateOf({ active, building }, parkedStreams),
      active,
      building,
      parkedStreams
    }
    return status
  })

  const status = Effect.forEach(projections, (p) => statusOf(p.name)).pipe(
    // Every name comes from the definitions themselves.
    Effect.catchTag("UnknownProjection", Effect.die),
    Effect.withSpan("Projections.status")
  )

  return { statusOf, status }
}
