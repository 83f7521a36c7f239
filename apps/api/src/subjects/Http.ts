/**
 * Handler of the subjects group: `PersonalData.forget` destroys the subject's key, drops its snapshots and
 * records the erasure (projections then redact their rows). The API also erases the fingerprints of
 * idempotent requests whose bodies held the subject's data, so no trace of it stays in the API's tables.
 */
import { PgClient } from "@effect/sql-pg"
import { EventStore, PersonalData, SubjectKeys } from "@verity/eventstore"
import { Effect, Option, Schema } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { Principal } from "../Auth.ts"
import * as Commands from "../Commands.ts"
import * as Idempotency from "../Idempotency.ts"
import * as Problems from "../Problems.ts"

/** The data of the erasure record, as `PersonalData.forget` writes it (decoded: the row is only JSON). */
const ErasureData = Schema.Struct({
  subjectId: Schema.String,
  reason: Schema.String,
  requestedBy: Schema.String,
  forgottenAt: Schema.String,
  streams: Schema.Array(Schema.String)
})
const decodeErasure = Schema.decodeUnknownEffect(ErasureData)

export const SubjectsHttp = HttpApiBuilder.group(
  VerityApi,
  "subjects",
  Effect.fn(function*(handlers) {
    const personalData = yield* PersonalData.PersonalData
    const keys = yield* SubjectKeys.SubjectKeys
    const sql = (yield* PgClient.PgClient).withoutTransforms()
    const store = yield* EventStore
    return handlers.handleAll({
      forget: ({ params, payload }) =>
        Effect.gen(function*() {
          const principal = yield* Principal
          const result = yield* personalData.forget(params.subjectId, { reason: payload.reason, requestedBy: principal.name }).pipe(
            Effect.catchTags({ StoreUnavailable: Commands.unavailable, InvalidStreamName: Effect.die })
          )
          yield* Idempotency.forgetSubject(sql, params.subjectId).pipe(Effect.catchTag("SqlError", Commands.sqlFailure))
          // Inside an idempotent request the forget's own transaction is only a savepoint, so its key
          // eviction ran before the real COMMIT: evict once more after it.
          yield* sql.afterCommit(keys.evict(params.subjectId))
          const last = Option.flatMap(result.erasure, (a) => Option.fromUndefinedOr(a.positions[a.positions.length - 1]))
          return {
            subjectId: result.subjectId,
            forgotten: result.forgotten,
            streams: result.streams,
            ...(Option.isSome(last) ? { position: last.value.toString() } : {})
          }
        }),
      erasure: ({ params }) =>
        Effect.gen(function*() {
          const events = yield* store.readStream(`${PersonalData.ERASURE_CATEGORY}-${params.subjectId}`, { maxCount: 10 }).pipe(
            Commands.loadFailure
          )
          // A subject is forgotten once (the key is gone for good): the first record is the erasure.
          const record = events.find((event) => event.type === PersonalData.ERASURE_EVENT)
          if (record === undefined) {
            return yield* new Problems.NotFound({
              resource: "erasure",
              id: params.subjectId,
              detail: `subject ${params.subjectId} was never forgotten`
            })
          }
          // A record that does not read as an erasure is a broken invariant of the store, not a client error.
          const data = yield* decodeErasure(record.data).pipe(Effect.orDie)
          return {
            subjectId: data.subjectId,
            forgottenAt: data.forgottenAt,
            requestedBy: data.requestedBy,
            reason: data.reason,
            streams: data.streams,
            eventId: record.eventId,
            position: record.position.toString(),
            recordedAt: record.recordedAt.toISOString(),
            // Metadata is a JSON object by construction (stored as jsonb): only its static type is narrower.
            metadata: record.metadata as Schema.Json
          }
        })
    })
  })
)
