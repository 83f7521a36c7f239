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

export class SubjectsApi extends HttpApiGroup.make("subjects")
  .add(
    HttpApiEndpoint.post("forget", "/subjects/:subjectId/forget", {
      params: { subjectId: SubjectId },
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      payload: ForgetPayload,
      success: ForgetResult,
      error: [Problems.ServiceUnavailable, Problems.InternalError]
    }).middleware(Idempotency)
  )
  .middleware(Authorization)
  .annotate(RequiredScope, "admin")
  .annotateMerge(OpenApi.annotations({
    title: "Data subjects",
    description: "GDPR erasure by crypto-shredding (scope admin)."
  }))
{}
