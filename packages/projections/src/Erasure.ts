/**
 * Erasure for generations no runner follows: a retired generation (kept for a grace period after the
 * switch, then dropped) or an abandoned building one (no live runner). Their tables still hold what they
 * held when their runner stopped, so a holder forgotten afterwards would keep their name there. The
 * supervisors therefore apply every erasure event (`SubjectForgotten`) after such a generation's position
 * to its tables, with the projection's own handler, and record how far they got
 * (`erasures_checkpoint`).
 *
 * Guarantees: each step applies its events and advances the erasure checkpoint in one transaction that
 * holds the generation's row lock, so two processes never apply the same page twice and a concurrent drop
 * (which takes the same lock) waits or finds nothing to erase. Only projections that subscribe to the
 * erasure event are concerned, and their handling of it must stand on its own (it must not depend on the
 * events between): the account summary's does, it overwrites the holder's fields and sets `erased`.
 */
import { EventStore, PersonalData } from "@verity/eventstore"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { Projection } from "./Projection.ts"
import type { Generation, Registry } from "./Registry.ts"

/** True when `projection` reads erasure events, hence may hold personal data to redact. */
export const redacts = (projection: Projection) =>
  projection.eventTypes.includes(PersonalData.ERASURE_EVENT) &&
  (projection.categories === undefined || projection.categories.includes(PersonalData.ERASURE_CATEGORY))

/** Seconds without a heartbeat after which a building generation counts as abandoned. */
export const ABANDONED_SECONDS = 15

/** The generations whose erasures the supervisors apply: retired ones, and building ones nobody runs. */
export const unfollowed = (generations: ReadonlyArray<Generation>, now: number) =>
  generations.filter((g) =>
    g.state === "retired" ||
    (g.state === "building" && (g.heartbeatAt === null || now - g.heartbeatAt.getTime() > ABANDONED_SECONDS * 1000) &&
      now - g.createdAt.getTime() > ABANDONED_SECONDS * 1000)
  )

const PAGE = 1_000

/** Applies the erasure events after the generation's erasure position; returns how many it applied. */
export const catchUp = (sql: SqlClient, registry: Registry, projection: Projection, generation: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const context = registry.context(projection, generation, false)
    let applied = 0
    while (true) {
      const step = yield* sql.withTransaction(Effect.gen(function*() {
        const from = yield* registry.lockForErasure(projection.name, generation)
        if (Option.isNone(from)) return { done: true, events: 0 }
        const page = yield* store.readAll({
          from: from.value,
          limit: PAGE,
          categories: [PersonalData.ERASURE_CATEGORY],
          types: [PersonalData.ERASURE_EVENT]
        })
        if (page.events.length > 0) {
          yield* projection.apply(page.events, context).pipe(Effect.provideService(SqlClient, sql))
        }
        if (page.checkpoint !== from.value) yield* registry.advanceErasures(projection.name, generation, page.checkpoint)
        return { done: page.caughtUp || page.checkpoint === from.value, events: page.events.length }
      }))
      applied += step.events
      if (step.done) return applied
    }
  })
