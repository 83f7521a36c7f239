/**
 * Handler of the subjects group: `PersonalData.forget` destroys the subject's key, drops its snapshots and
 * records the erasure (projections then redact their rows). The API also erases the fingerprints of
 * idempotent requests whose bodies held the subject's data, so no trace of it stays in the API's tables.
 */
import { PgClient } from "@effect/sql-pg"
import { PersonalData, SubjectKeys } from "@verity/eventstore"
import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { Principal } from "../Auth.ts"
import * as Commands from "../Commands.ts"
import * as Idempotency from "../Idempotency.ts"

export const SubjectsHttp = HttpApiBuilder.group(
  VerityApi,
  "subjects",
  Effect.fn(function*(handlers) {
    const personalData = yield* PersonalData.PersonalData
    const keys = yield* SubjectKeys.SubjectKeys
    const sql = (yield* PgClient.PgClient).withoutTransforms()
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
        })
    })
  })
)
