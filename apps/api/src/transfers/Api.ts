/**
 * The transfers contract: request a transfer between two accounts (202: the transfer process manager
 * moves the money asynchronously: debit, credit, then settle or refund) and read a transfer's current
 * state, folded from its own stream. The transfer stream's version is the ETag.
 */
import { Ids, Money, Transfer } from "@verity/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"

export const TransferPayload = Schema.Struct({
  fromAccountId: Ids.AccountId,
  toAccountId: Ids.AccountId,
  amount: Money.Amount
}).annotate({ identifier: "TransferRequest" })

export const TransferAccepted = Schema.Struct({
  transferId: Schema.String,
  version: Schema.Int,
  position: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "TransferAccepted" })

export const TransferView = Schema.Struct({
  transferId: Schema.String,
  version: Schema.Int,
  state: Transfer.TransferState
}).annotate({ identifier: "Transfer" })

const ETag = { etag: Schema.String }

export class TransfersApi extends HttpApiGroup.make("transfers")
  .add(
    HttpApiEndpoint.post("request", "/transfers", {
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      payload: TransferPayload,
      success: HttpApiSchema.WithHeaders(TransferAccepted.pipe(HttpApiSchema.status(202)), {
        ...ETag,
        location: Schema.String
      }),
      error: [
        Problems.UnknownAccount,
        Problems.SameAccountTransfer,
        Problems.CurrencyMismatch,
        Problems.ConcurrencyConflict,
        Problems.SubjectForgotten,
        Problems.NotFound,
        Problems.ServiceUnavailable,
        Problems.InternalError
      ]
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.get("get", "/transfers/:id", {
      params: { id: Ids.TransferId },
      success: HttpApiSchema.WithHeaders(TransferView, ETag),
      error: [Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    })
  )
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Transfers",
    description: "Money between two accounts of the same currency, moved by the transfer process manager."
  }))
{}
