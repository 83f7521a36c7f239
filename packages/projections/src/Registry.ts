/**
 * SQL over the runtime's tables: projections and their generations, checkpoints (compare-and-set, the
 * fence that keeps a runner that lost its lock from writing), views, and parked streams.
 */
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Checkpoint } from "@verity/eventstore"
import { generationSchema, type Projection, type TablesContext } from "./Projection.ts"
import { SCHEMA } from "./Migrations.ts"

export type GenerationState = "building" | "active" | "retired"

export interface Generation {
  readonly name: string
  readonly generation: number
  readonly version: number
  readonly state: GenerationState
  readonly checkpoint: Checkpoint.Checkpoint
  readonly position: bigint
  readonly eventsApplied: bigint
  readonly owner: string | null
  readonly heartbeatAt: Date | null
  readonly runnerState: string | null
  readonly lastError: string | null
  readonly lastErrorAt: Date | null
  readonly createdAt: Date
  readonly activatedAt: Date | null
}

interface GenerationRow {
  readonly name: string
  readonly generation: number
  readonly version: number
  readonly state: GenerationState
  readonly checkpoint: string
  readonly position: bigint
  readonly events_applied: bigint
  readonly owner: string | null
  readonly heartbeat_at: Date | null
  readonly runner_state: string | null
  readonly last_error: string | null
  readonly last_error_at: Date | null
  readonly created_at: Date
  readonly activated_at: Date | null
}

const toGeneration = (row: GenerationRow): Generation => ({
  name: row.name,
  generation: row.generation,
  version: row.version,
  state: row.state,
  checkpoint: row.checkpoint as Checkpoint.Checkpoint,
  position: row.position,
  eventsApplied: row.events_applied,
  owner: row.owner,
  heartbeatAt: row.heartbeat_at,
  runnerState: row.runner_state,
  lastError: row.last_error,
  lastErrorAt: row.last_error_at,
  createdAt: row.created_at,
  activatedAt: row.activated_at
})

export const make = (sql: SqlClient) => {
  const t = (name: string) => sql(`${SCHEMA}.${name}`)
  const projections = t("projections")
  const generations = t("generations")
  const parkedStreams = t("parked_streams")
  const parkedEvents = t("parked_events")

  const context = (projection: Projection, generation: number, rebuilding: boolean): TablesContext => {
    const schema = generationSchema(projection.name, generation)
    return { schema, table: (name) => sql(`${schema}.${name}`), rebuilding }
  }

  const generationsOf = (name: string) =>
    sql<GenerationRow>`SELECT * FROM ${generations} WHERE name = ${name} ORDER BY generation`.pipe(
      Effect.map((rows) => rows.map(toGeneration))
    )

  const generation = (name: string, number: number) =>
    sql<GenerationRow>`SELECT * FROM ${generations} WHERE name = ${name} AND generation = ${number}`.pipe(
      Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), toGeneration))
    )

  const activeGeneration = (name: string) =>
    sql<{ readonly active_generation: number | null }>`
      SELECT active_generation FROM ${projections} WHERE name = ${name}`.pipe(
      Effect.map((rows) => Option.fromNullishOr(rows[0]?.active_generation))
    )

  /** Points the projection's views at `generation`'s tables (inside the caller's transaction). */
  const switchViews = (projection: Projection, number: number) =>
    Effect.gen(function*() {
      const target = generationSchema(projection.name, number)
      yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(projection.name)}`
      for (const table of projection.tables) {
        yield* sql`DROP VIEW IF EXISTS ${sql(`${projection.name}.${table.name}`)}`
        yield* sql`CREATE VIEW ${sql(`${projection.name}.${table.name}`)} AS SELECT * FROM ${sql(`${target}.${table.name}`)}`
      }
    })

  /**
   * A new generation: its schema, its tables, its row. The first generation of a projection becomes
   * active at once (there is nothing to keep serving); later ones start as `building`. Without `force`, an
   * active or building generation of the same version is returned instead.
   */
  const createGeneration = (projection: Projection, force = false) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`INSERT INTO ${projections} (name) VALUES (${projection.name}) ON CONFLICT (name) DO NOTHING`
      // Serialises generation creation per projection across processes.
      const locked = yield* sql<{ readonly active_generation: number | null }>`
        SELECT active_generation FROM ${projections} WHERE name = ${projection.name} FOR UPDATE`
      const existing = yield* generationsOf(projection.name)
      const building = existing.find((g) => g.state === "building" && g.version === projection.version)
      if (building !== undefined) return building
      const active = existing.find((g) => g.state === "active")
      if (!force && active !== undefined && active.version === projection.version && locked[0]?.active_generation === active.generation) {
        return active
      }
      const number = existing.reduce((max, g) => Math.max(max, g.generation), 0) + 1
      const ctx = context(projection, number, true)
      yield* sql`DROP SCHEMA IF EXISTS ${sql(ctx.schema)} CASCADE`
      yield* sql`CREATE SCHEMA ${sql(ctx.schema)}`
      yield* projection.migrate(ctx).pipe(Effect.provideService(SqlClient, sql))
      const first = locked[0]?.active_generation === null || locked[0]?.active_generation === undefined
      const state: GenerationState = first ? "active" : "building"
      yield* sql`
        INSERT INTO ${generations} (name, generation, version, state, checkpoint, activated_at)
        VALUES (${projection.name}, ${number}, ${projection.version}, ${state}, ${Checkpoint.start},
          ${first ? new Date() : null})`
      if (first) {
        yield* sql`UPDATE ${projections} SET active_generation = ${number}, updated_at = now() WHERE name = ${projection.name}`
        yield* switchViews(projection, number)
      }
      return (yield* generation(projection.name, number)).pipe(Option.getOrThrow)
    }))

  /** Makes a building generation the one readers see; the previous active one is retired. */
  const activate = (projection: Projection, number: number) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT 1 FROM ${projections} WHERE name = ${projection.name} FOR UPDATE`
      const rows = yield* sql<{ readonly state: GenerationState }>`
        SELECT state FROM ${generations} WHERE name = ${projection.name} AND generation = ${number} FOR UPDATE`
      if (rows[0]?.state !== "building") return false
      yield* sql`
        UPDATE ${generations} SET state = 'retired', retired_at = now()
        WHERE name = ${projection.name} AND state = 'active'`
      yield* sql`
        UPDATE ${generations} SET state = 'active', activated_at = now()
        WHERE name = ${projection.name} AND generation = ${number}`
      yield* sql`UPDATE ${projections} SET active_generation = ${number}, updated_at = now() WHERE name = ${projection.name}`
      yield* switchViews(projection, number)
      return true
    }))

  /** Drops the tables of retired generations. */
  const prune = (name: string) =>
    Effect.gen(function*() {
      const retired = (yield* generationsOf(name)).filter((g) => g.state === "retired")
      for (const g of retired) {
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`DROP SCHEMA IF EXISTS ${sql(generationSchema(name, g.generation))} CASCADE`
          yield* sql`DELETE FROM ${parkedEvents} WHERE name = ${name} AND generation = ${g.generation}`
          yield* sql`DELETE FROM ${parkedStreams} WHERE name = ${name} AND generation = ${g.generation}`
          yield* sql`DELETE FROM ${generations} WHERE name = ${name} AND generation = ${g.generation}`
        }))
      }
      return retired.map((g) => g.generation)
    })

  /**
   * Advances the checkpoint from `expected` to `next` (inside the batch transaction). False when the row
   * moved or the generation was retired: another runner owns it, and this batch must roll back.
   */
  const advance = (
    name: string,
    number: number,
    expected: Checkpoint.Checkpoint,
    next: Checkpoint.Checkpoint,
    position: bigint,
    applied: number
  ) =>
    sql<{ readonly generation: number }>`
      UPDATE ${generations} SET checkpoint = ${next}, position = greatest(position, ${position}),
        events_applied = events_applied + ${applied}
      WHERE name = ${name} AND generation = ${number} AND checkpoint = ${expected} AND state <> 'retired'
      RETURNING generation`.pipe(Effect.map((rows) => rows.length === 1))

  const heartbeat = (name: string, number: number, owner: string, runnerState: string) =>
    sql`UPDATE ${generations} SET owner = ${owner}, heartbeat_at = now(), runner_state = ${runnerState}
        WHERE name = ${name} AND generation = ${number}`.pipe(Effect.asVoid)

  const recordError = (name: string, number: number, error: string | null) =>
    sql`UPDATE ${generations} SET last_error = ${error}, last_error_at = CASE WHEN ${error}::text IS NULL THEN last_error_at ELSE now() END
        WHERE name = ${name} AND generation = ${number}`.pipe(Effect.asVoid)

  return {
    context,
    generationsOf,
    generation,
    activeGeneration,
    createGeneration,
    activate,
    prune,
    advance,
    heartbeat,
    recordError,
    tables: { projections, generations, parkedStreams, parkedEvents, deadLetters: t("dead_letters") }
  }
}

export type Registry = ReturnType<typeof make>

