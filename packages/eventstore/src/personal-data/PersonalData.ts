/**
 * GDPR operations on the data subjects of the store: forget a subject (crypto-shredding), rotate the
 * master key, inspect a subject.
 *
 * `forget` destroys the subject's data key, deletes the snapshots of every stream that held its data, and
 * records an erasure event (`SubjectForgotten` in stream `erasure-<subject>`: who asked, why, when; no
 * personal data) in ONE transaction. Projections consume that event to redact read models. Forgetting is
 * permanent: the key row stays, marked forgotten, and new personal data for the subject is refused.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { InvalidStreamName, type PersonalDataError, type StoreUnavailable } from "../Errors.ts"
import * as EventId from "../EventId.ts"
import type { AppendResult } from "../Events.ts"
import { EventStore } from "../EventStore.ts"
import * as Migrations from "../Migrations.ts"
import { mapSqlErrors } from "../postgres/SqlErrors.ts"
import * as StreamName from "../StreamName.ts"
import type { MasterKeyring } from "./MasterKeys.ts"
import type * as PersonalFields from "./PersonalFields.ts"
import * as ProtectedEventStore from "./ProtectedEventStore.ts"
import * as SubjectKeys from "./SubjectKeys.ts"

/** The category of erasure records, and their event type. */
export const ERASURE_CATEGORY = "erasure"
export const ERASURE_EVENT = "SubjectForgotten"

/** The data of a `SubjectForgotten` event. */
export interface SubjectForgottenData {
  readonly subjectId: string
  readonly reason: string
  readonly requestedBy: string
  readonly forgottenAt: string
  readonly streams: ReadonlyArray<string>
}

export interface ForgetRequest {
  /** Why (e.g. "GDPR art. 17 request #123"): must not itself contain personal data. */
  readonly reason: string
  /** Who asked (a token or operator name). */
  readonly requestedBy: string
}

export interface ForgetResult {
  readonly subjectId: string
  /** False when the subject had been forgotten before (nothing changed then). */
  readonly forgotten: boolean
  /** Streams whose snapshots were deleted. */
  readonly streams: ReadonlyArray<string>
  readonly erasure: Option.Option<AppendResult>
}

export interface SubjectStatus {
  readonly subjectId: string
  readonly state: "active" | "forgotten" | "unknown"
  readonly streams: ReadonlyArray<string>
}

export class PersonalData extends Context.Service<PersonalData, {
  readonly forget: (
    subjectId: string,
    request: ForgetRequest
  ) => Effect.Effect<ForgetResult, InvalidStreamName | StoreUnavailable>
  readonly status: (subjectId: string) => Effect.Effect<SubjectStatus, StoreUnavailable>
  /** Re-wraps every data key under the current master key, online. Returns how many keys moved. */
  readonly rotateMasterKey: Effect.Effect<number, PersonalDataError | StoreUnavailable>
  readonly keyCounts: Effect.Effect<Readonly<Record<string, number>>, StoreUnavailable>
}>()("@verity/eventstore/PersonalData") {}

const SUBJECT = /^[A-Za-z0-9_.:-]{1,200}$/

export const make = (schema: string) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const sql = pg.withoutTransforms()
    const store = yield* EventStore
    const keys = yield* SubjectKeys.SubjectKeys
    const subjectStreams = sql(`${schema}.subject_streams`)
    const subjectKeys = sql(`${schema}.subject_keys`)
    const snapshots = sql(`${schema}.snapshots`)

    const validate = (subjectId: string) =>
      SUBJECT.test(subjectId)
        ? Effect.void
        : Effect.fail(new InvalidStreamName({ stream: `${ERASURE_CATEGORY}-${subjectId}`, reason: "invalid subject id" }))

    const forget = Effect.fn("PersonalData.forget")(function*(subjectId: string, request: ForgetRequest) {
      yield* validate(subjectId)
      // Destroying the key writes before the erasure event is appended: the transaction announces itself.
      const outcome = yield* store.transaction(Effect.gen(function*() {
        const forgotten = yield* keys.destroy(subjectId)
        const rows = yield* sql<{ readonly stream_id: string }>`
          SELECT stream_id FROM ${subjectStreams} WHERE subject_id = ${subjectId} ORDER BY stream_id`
        const streams = rows.map((row) => row.stream_id)
        yield* sql`DELETE FROM ${snapshots} WHERE stream_id = ANY(${streams}::text[])`
        if (!forgotten) return { forgotten, streams, erasure: Option.none<AppendResult>() }
        const data: SubjectForgottenData = {
          subjectId,
          reason: request.reason,
          requestedBy: request.requestedBy,
          forgottenAt: new Date().toISOString(),
          streams
        }
        const erasure = yield* store.append(StreamName.make(ERASURE_CATEGORY, subjectId), "any", [
          { eventId: EventId.make(), type: ERASURE_EVENT, data, metadata: { actor: request.requestedBy } }
        ])
        return { forgotten, streams, erasure: Option.some(erasure) }
      }))
      // After commit: nobody may keep decrypting with a cached copy of the key.
      yield* keys.evict(subjectId)
      return { subjectId, ...outcome }
    }, (effect) =>
      effect.pipe(
        mapSqlErrors("forget"),
        // The erasure event carries no personal data: these append failures cannot happen for it.
        Effect.catchTags({
          WrongExpectedVersion: Effect.die,
          StreamTombstoned: Effect.die,
          InvalidEvent: Effect.die,
          DuplicateEventId: Effect.die,
          SubjectForgotten: Effect.die,
          PersonalDataError: Effect.die
        })
      ))

    const status = (subjectId: string) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ readonly forgotten: boolean }>`
          SELECT forgotten_at IS NOT NULL AS forgotten FROM ${subjectKeys} WHERE subject_id = ${subjectId}`
        const held = yield* sql<{ readonly stream_id: string }>`
          SELECT stream_id FROM ${subjectStreams} WHERE subject_id = ${subjectId} ORDER BY stream_id`
        const row = rows[0]
        return {
          subjectId,
          state: row === undefined ? "unknown" : row.forgotten ? "forgotten" : "active",
          streams: held.map((r) => r.stream_id)
        } satisfies SubjectStatus
      }).pipe(mapSqlErrors("subjectStatus"))

    return PersonalData.of({ forget, status, rotateMasterKey: keys.rotate(), keyCounts: keys.keyCounts })
  })

export interface PersonalDataOptions {
  /** The event store's PostgreSQL schema (default `verity`). */
  readonly schema?: string
  /** The master keys; without them, reading or writing personal data fails with `MissingMasterKey`. */
  readonly masterKeys: MasterKeyring | undefined
  /** Personal-data fields per event type, e.g. `PersonalFields.fromSchemas(AccountEvent)`. */
  readonly fields: PersonalFields.PersonalFieldMap
  readonly cacheSize?: number
  readonly cacheTtl?: SubjectKeys.SubjectKeysOptions["cacheTtl"]
}

/**
 * Crypto-shredding around the `EventStore` it is given: provides the protected `EventStore` (shadowing the
 * plain one), `PersonalData` and `SubjectKeys`. Runs the store's migrations first (they are idempotent).
 */
export const layer = (options: PersonalDataOptions) => {
  const schema = options.schema ?? "verity"
  const keysOptions: SubjectKeys.SubjectKeysOptions = {
    schema,
    masterKeys: options.masterKeys,
    ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
    ...(options.cacheTtl === undefined ? {} : { cacheTtl: options.cacheTtl })
  }
  const keysLayer = Layer.effect(
    SubjectKeys.SubjectKeys,
    Effect.gen(function*() {
      const pg = yield* PgClient.PgClient
      yield* Migrations.run(schema).pipe(Effect.provideService(SqlClient, pg.withoutTransforms()))
      return yield* SubjectKeys.make(keysOptions)
    })
  )
  const protectedStore = ProtectedEventStore.layer(options.fields)
  const service = Layer.effect(PersonalData, make(schema))
  return Layer.mergeAll(protectedStore, service).pipe(Layer.provideMerge(keysLayer))
}
