/**
 * Verify: recompute a projection from the events into scratch tables, up to exactly the checkpoint of the
 * live generation, and diff the two table by table on their keys. The comparison runs in one REPEATABLE
 * READ transaction that also re-reads the live checkpoint, so live rows and checkpoint belong together;
 * when the live generation moved on meanwhile, the scratch copy catches up and compares again.
 *
 * The same comparison checks a building generation before readers switch to it (the verified switch): its
 * runner holds the generation's lock meanwhile, so its rows and checkpoint stand still.
 */
import { Checkpoint, EventStore } from "@verity/eventstore"
import { Clock, Effect, Option, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { generationSchema, type Projection, type TablesContext } from "./Projection.ts"
import type { Registry } from "./Registry.ts"

export interface RowDifference {
  /** The row's key columns. */
  readonly key: Readonly<Record<string, unknown>>
  /** The live row (absent: missing from the read model). */
  readonly live: unknown
  /** The row recomputed from the events (absent: the read model has a row that should not exist). */
  readonly expected: unknown
}

export interface TableReport {
  readonly table: string
  readonly differences: number
  /** The first differing rows (up to 100). */
  readonly rows: ReadonlyArray<RowDifference>
}

export interface VerifyReport {
  readonly name: string
  readonly generation: number
  readonly checkpoint: Checkpoint.Checkpoint
  readonly events: number
  /**
   * Events left out of the recomputation because the live generation did not apply them on purpose:
   * skipped by an operator (dead letters) or waiting behind a parked stream.
   */
  readonly excluded: number
  readonly consistent: boolean
  readonly tables: ReadonlyArray<TableReport>
}

const SHOWN = 100
const ROUNDS = 20

/** The live generation moved on between catching up and comparing: catch up and compare again. */
class LiveMoved extends Schema.TaggedError<LiveMoved>()("LiveMoved", {}) {}

/** Verify could not produce a report: no generation to compare, or the live one never stood still. */
export class VerifyImpossible extends Schema.TaggedError<VerifyImpossible>()("VerifyImpossible", {
  projection: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `cannot verify ${this.projection}: ${this.detail}`
  }
}

/** Compares `generation` (the active one when absent) with the events. */
export const verify = (sql: SqlClient, registry: Registry, projection: Projection, which?: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const active = which === undefined ? yield* registry.activeGeneration(projection.name) : Option.some(which)
    if (Option.isNone(active)) {
      return yield* new VerifyImpossible({ projection: projection.name, detail: "it has no active generation" })
    }
    const generation = active.value
    const scratch = `${projection.name}_verify_${(yield* Clock.currentTimeMillis).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
    const context: TablesContext = { schema: scratch, table: (name) => sql(`${scratch}.${name}`), rebuilding: true }
    const liveTable = (name: string) => sql(`${generationSchema(projection.name, generation)}.${name}`)
    const checkpointOf = sql<{ readonly checkpoint: string }>`
      SELECT checkpoint FROM ${registry.tables.generations} WHERE name = ${projection.name} AND generation = ${generation}`.pipe(
      Effect.map((rows) => rows[0]?.checkpoint as Checkpoint.Checkpoint)
    )

    const build = Effect.gen(function*() {
      yield* sql`CREATE SCHEMA ${sql(scratch)}`
      yield* projection.migrate(context).pipe(Effect.provideService(SqlClient, sql))
      let at: Checkpoint.Checkpoint = Checkpoint.start
      let events = 0
      let excluded = 0
      const withheld = Effect.gen(function*() {
        const { deadLetters, parkedEvents } = registry.tables
        const rows = yield* sql<{ readonly position: bigint }>`
          SELECT position FROM ${deadLetters} WHERE name = ${projection.name} AND generation = ${generation}
          UNION SELECT position FROM ${parkedEvents} WHERE name = ${projection.name} AND generation = ${generation}`
        return new Set(rows.map((row) => row.position))
      })
      const catchUpTo = (target: Checkpoint.Checkpoint) =>
        Effect.gen(function*() {
          while (Checkpoint.Order(at, target) < 0) {
            const page = yield* store.readAll({
              from: at,
              limit: 5_000,
              types: projection.eventTypes,
              ...(projection.categories === undefined ? {} : { categories: projection.categories })
            })
            const upTo = page.events.filter((e) => Checkpoint.Order(e.checkpoint, target) <= 0)
            const skip = yield* withheld
            const included = upTo.filter((e) => !skip.has(e.position))
            excluded += upTo.length - included.length
            if (included.length > 0) {
              yield* sql.withTransaction(projection.apply(included, context)).pipe(Effect.provideService(SqlClient, sql))
              events += included.length
            }
            if (upTo.length < page.events.length || page.caughtUp) break
            at = page.checkpoint
          }
          at = target
        })

      for (let round = 0; round < ROUNDS; round++) {
        const target = yield* checkpointOf
        yield* catchUpTo(target)
        const compared = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`
          if ((yield* checkpointOf) !== target) return yield* new LiveMoved()
          const tables: Array<TableReport> = []
          for (const table of projection.tables) {
            const on = sql.and(table.key.map((column) => sql`l.${sql(column)} = r.${sql(column)}`))
            const rows = yield* sql<
              { readonly live: Record<string, unknown> | null; readonly expected: Record<string, unknown> | null; readonly total: bigint }
            >`
              WITH d AS (
                SELECT to_jsonb(l.*) AS live, to_jsonb(r.*) AS expected
                FROM ${liveTable(table.name)} l FULL OUTER JOIN ${context.table(table.name)} r ON ${on}
                WHERE to_jsonb(l.*) IS DISTINCT FROM to_jsonb(r.*)
              )
              SELECT live, expected, count(*) OVER () AS total FROM d LIMIT ${SHOWN}`
            tables.push({
              table: table.name,
              differences: Number(rows[0]?.total ?? 0),
              rows: rows.map((row) => {
                const source = row.live ?? row.expected ?? {}
                return {
                  key: Object.fromEntries(table.key.map((column) => [column, source[column]])),
                  live: row.live ?? undefined,
                  expected: row.expected ?? undefined
                }
              })
            })
          }
          return tables
        })).pipe(
          Effect.map(Option.some),
          Effect.catchTag("LiveMoved", () => Effect.succeed(Option.none()))
        )
        if (Option.isSome(compared)) {
          const tables = compared.value
          return {
            name: projection.name,
            generation,
            checkpoint: target,
            events,
            excluded,
            consistent: tables.every((t) => t.differences === 0),
            tables
          } satisfies VerifyReport
        }
      }
      return yield* new VerifyImpossible({ projection: projection.name, detail: `it kept moving; gave up after ${ROUNDS} rounds` })
    })

    return yield* build.pipe(
      Effect.ensuring(sql`DROP SCHEMA IF EXISTS ${sql(scratch)} CASCADE`.pipe(Effect.ignore))
    )
  })
