/**
 * SQL over the runtime's tables: projections and their generations, checkpoints (compare-and-set, the
 * fence that keeps a runner that lost its lock from writing), views, and parked streams; the verified
 * switch's refusals, erasures applied to generations no runner follows, and dropping retired generations.
 */
import { Checkpoint } from "@verity/eventstore"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { SCHEMA } from "./Migrations.ts"
import { generationSchema, type Projection, type TablesContext } from "./Projection.ts"

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
  readonly retiredAt: Date | null
  /** False when a rebuild asked to switch to this generation without comparing it with the events. */
  readonly verifySwitch: boolean
  /** Why the verified switch was refused (the differing rows); such a generation never becomes active. */
  readonly refusal: unknown
  /** How far erasure events were applied to it while no runner follows it (retired, abandoned). */
  readonly erasuresCheckpoint: Checkpoint.Checkpoint | null
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
  readonly retired_at: Date | null
  readonly verify_switch: boolean
  readonly refusal: unknown
  readonly erasures_checkpoint: string | null
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
  activatedAt: row.activated_at,
  retiredAt: row.retired_at,
  verifySwitch: row.verify_switch,
  refusal: row.refusal ?? null,
  erasuresCheckpoint: row.erasures_checkpoint as Checkpoint.Checkpoint | null
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
  const createGeneration = (projection: Projection, force = false, verifySwitch = true) =>
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
        INSERT INTO ${generations} (name, generation, version, state, checkpoint, activated_at, verify_switch)
        VALUES (${projection.name}, ${number}, ${projection.version}, ${state}, ${Checkpoint.start},
          ${first ? new Date() : null}, ${verifySwitch})`
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
      const rows = yield* sql<{ readonly state: GenerationState; readonly refused: boolean }>`
        SELECT state, refusal IS NOT NULL AS refused FROM ${generations}
        WHERE name = ${projection.name} AND generation = ${number} FOR UPDATE`
      if (rows[0]?.state !== "building" || rows[0].refused) return false
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

  /**
   * Drops the tables of retired generations (all, or those retired at least `graceSeconds` ago by the
   * database's clock). Each drop locks its generation's row first, so it never interleaves with erasures
   * being applied to it; a drop that waits for readers still on the old tables gives up after a few
   * seconds (and is tried again later) rather than queue other sessions behind its lock.
   */
  const prune = (name: string, graceSeconds?: number) =>
    Effect.gen(function*() {
      const retired = graceSeconds === undefined
        ? (yield* generationsOf(name)).filter((g) => g.state === "retired").map((g) => g.generation)
        : (yield* sql<{ readonly generation: number }>`
            SELECT generation FROM ${generations}
            WHERE name = ${name} AND state = 'retired' AND retired_at <= now() - make_interval(secs => ${graceSeconds})
            ORDER BY generation`).map((row) => row.generation)
      const dropped: Array<number> = []
      for (const number of retired) {
        const done = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SET LOCAL lock_timeout = '5s'`
          const row = yield* sql`
            SELECT 1 FROM ${generations} WHERE name = ${name} AND generation = ${number} AND state = 'retired' FOR UPDATE`
          if (row.length === 0) return false
          yield* sql`DROP SCHEMA IF EXISTS ${sql(generationSchema(name, number))} CASCADE`
          yield* sql`DELETE FROM ${parkedEvents} WHERE name = ${name} AND generation = ${number}`
          yield* sql`DELETE FROM ${parkedStreams} WHERE name = ${name} AND generation = ${number}`
          yield* sql`DELETE FROM ${generations} WHERE name = ${name} AND generation = ${number}`
          return true
        }))
        if (done) dropped.push(number)
      }
      return dropped
    })

  /** Records why the verified switch to a building generation was refused; it will never become active. */
  const refuse = (name: string, number: number, refusal: unknown) =>
    sql`UPDATE ${generations} SET refusal = ${JSON.stringify(refusal)}::jsonb, runner_state = 'refused'
        WHERE name = ${name} AND generation = ${number} AND state = 'building'`.pipe(Effect.asVoid)

  /** Retires a building generation that will not be switched to (refused, or replaced by a new rebuild). */
  const retire = (name: string, number: number) =>
    sql`UPDATE ${generations} SET state = 'retired', retired_at = now()
        WHERE name = ${name} AND generation = ${number} AND state = 'building'`.pipe(Effect.asVoid)

  const setVerifySwitch = (name: string, number: number, verify: boolean) =>
    sql`UPDATE ${generations} SET verify_switch = ${verify} WHERE name = ${name} AND generation = ${number}`.pipe(Effect.asVoid)

  /**
   * Locks a generation no runner follows for applying erasures to it, inside the caller's transaction:
   * where its erasures stand (the later of its checkpoint and its erasure checkpoint), or none when it
   * was dropped.
   */
  const lockForErasure = (name: string, number: number) =>
    sql<{ readonly checkpoint: string; readonly erasures_checkpoint: string | null }>`
      SELECT checkpoint, erasures_checkpoint FROM ${generations}
      WHERE name = ${name} AND generation = ${number} FOR UPDATE`.pipe(
      Effect.map((rows) =>
        Option.map(Option.fromNullishOr(rows[0]), (row) => {
          const own = row.checkpoint as Checkpoint.Checkpoint
          const erased = row.erasures_checkpoint as Checkpoint.Checkpoint | null
          // A runner may have moved past the erasures applied while it was away: start at the later one.
          return erased !== null && Checkpoint.Order(erased, own) > 0 ? erased : own
        })
      )
    )

  const advanceErasures = (name: string, number: number, next: Checkpoint.Checkpoint) =>
    sql`UPDATE ${generations} SET erasures_checkpoint = ${next} WHERE name = ${name} AND generation = ${number}`.pipe(Effect.asVoid)

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
    refuse,
    retire,
    setVerifySwitch,
    lockForErasure,
    advanceErasures,
    advance,
    heartbeat,
    recordError,
    tables: { projections, generations, parkedStreams, parkedEvents, deadLetters: t("dead_letters") }
  }
}

export type Registry = ReturnType<typeof make>
