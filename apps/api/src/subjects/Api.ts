/**
 * The data subjects contract (GDPR, scope admin): forget a subject by crypto-shredding. The subject of the
 * ledger's personal data is the account (its holder's name and email), so the subject id is the account
 * id. Forgetting is permanent and idempotent: a second call answers `forgotten: false`.
 */
import { Text } from "@verity/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"

export const SubjectId = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9_.:-]{1,200}$/, { expected: "a subject id (an account id)" })
)

export const ForgetPayload = Schema.Struct({
  /** Why (e.g. "GDPR art. 17 request #123"); it is recorded, so it must not itself hold personal data. */
  reason: Text.Reason
}).annotate({ identifier: "ForgetRequest" })

export const ForgetResult = Schema.Struct({
  subjectId: Schema.String,
  /** False when the subject had already been forgotten (nothing changed). */
  forgotten: Schema.Boolean,
  /** Streams that held the subject's data (their snapshots were deleted). */
  streams: Schema.Array(Schema.String),
  /** Global position of the erasure record: `GET /accounts/{id}?waitForPosition=` sees the redaction. */
  position: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "ForgetResult" })

export const ErasureAudit = Schema.Struct({
  subjectId: Schema.String,
  /** When the key was destroyed (ISO 8601). */
  forgottenAt: Schema.String,
  /** The token name (or operator) that asked. */
  requestedBy: Schema.String,
  reason: Schema.String,
  /** Streams that held the subject's data when it was forgotten. */
  streams: Schema.Array(Schema.String),
  /** The erasure record: the `SubjectForgotten` event of stream `erasure-<subjectId>`. */
  eventId: Schema.String,
  position: Schema.String,
  recordedAt: Schema.String,
  /** The record's metadata (actor, correlation id of the request). */
  metadata: Schema.Json
}).annotate({ identifier: "ErasureAudit" })

export class SubjectsApi extends HttpApiGroup.make("subjects")
  .add(
    HttpApiEndpoint.post("forget", "/subjects/:subjectId/forget", {
      params: { subjectId: SubjectId },
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      payload: ForgetPayload,
      success: ForgetResult,
      error: [Problems.ServiceUnavailable, Problems.InternalError]
    }).middleware(Idempotency),
    HttpApiEndpoint.get("erasure", "/subjects/:subjectId/erasure", {
      params: { subjectId: SubjectId },
      success: ErasureAudit,
      error: [Problems.BadRequest, Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    }).annotateMerge(OpenApi.annotations({
      summary: "The erasure audit of a subject",
      description: "Who forgot the subject, when, why, and which streams held its data, from the erasure record " +
        "that `POST /subjects/{subjectId}/forget` appended (stream `erasure-<subjectId>`, no personal data). " +
        "404 NotFound: the subject was never forgotten. 400: the subject id is not 1 to 200 of " +
        "`A-Z a-z 0-9 _ . : -`. Scope admin."
    }))
  )
  .middleware(Authorization)
  .annotate(RequiredScope, "admin")
  .annotateMerge(OpenApi.annotations({
    title: "Data subjects",
    description: "GDPR erasure by crypto-shredding (scope admin)."
  }))
{}
