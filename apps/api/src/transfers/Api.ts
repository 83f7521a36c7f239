/**
 * The transfers contract: request a transfer between two accounts (202: the transfer process manager
 * moves the money asynchronously: debit, credit, then settle or refund) and read a transfer's current
 * state, folded from its own stream. The transfer stream's version is the ETag.
 */
import { Ids, Money, Transfer } from "@verity/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { HistoryEvent } from "../accounts/Api.ts"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"
import * as Ranges from "../Ranges.ts"
import { WaitForPosition } from "../ReadYourWrites.ts"

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

export const TransferHistory = Schema.Struct({
  transferId: Schema.String,
  events: Schema.Array(HistoryEvent),
  /** `fromVersion` of the next page; absent when this page reached the end. */
  nextFromVersion: Schema.optionalKey(Schema.Int)
}).annotate({ identifier: "TransferHistory" })

export const TransferStatus = Schema.Literals(["Requested", "Debited", "Credited", "Completed", "Refunding", "Failed"])

export const TransferSummary = Schema.Struct({
  transferId: Schema.String,
  fromAccountId: Schema.String,
  toAccountId: Schema.String,
  amount: Schema.Int,
  currency: Schema.String,
  status: TransferStatus,
  /** Failed transfers: "Debit" (nothing moved) or "Credit" (the debit was refunded). */
  failedStep: Schema.optionalKey(Schema.Literals(["Debit", "Credit"])),
  /** Failed or refunding transfers: the rejection, e.g. `InsufficientFunds`. */
  reason: Schema.optionalKey(Schema.String),
  /** The transfer stream version the row reflects. */
  version: Schema.Int,
  /** Global position of the request (the listing's order). */
  position: Schema.String,
  requestedAt: Schema.String,
  updatedAt: Schema.String
}).annotate({ identifier: "TransferSummary" })

export const TransferPage = Schema.Struct({
  items: Schema.Array(TransferSummary),
  /** Pass as `after` for the next page; absent on the last page. */
  next: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "TransferPage" })

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
    HttpApiEndpoint.get("list", "/transfers", {
      query: {
        status: Schema.optional(TransferStatus).annotate({ description: "Only transfers in this saga status" }),
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 500 }))).annotate({
          description: "Transfers per page, 1 to 500 (default 50)"
        }),
        after: Schema.optional(Ranges.Position).annotate({ description: "Cursor: the `next` of the previous page" }),
        waitForPosition: WaitForPosition
      },
      success: TransferPage,
      error: [Problems.BadRequest, Problems.ProjectionNotCaughtUp, Problems.ServiceUnavailable, Problems.InternalError]
    }).annotateMerge(OpenApi.annotations({
      summary: "List transfers, optionally of one status",
      description: "Transfers from the `transfers` read model in the order they were requested, keyset-paged: pass " +
        "`next` as `after` (a transfer requested or changing status meanwhile never makes a page repeat or skip " +
        "one). 400: `status` not one of Requested, Debited, Credited, Completed, Refunding, Failed; `limit` outside " +
        "1..500; `after` not a position. 503 ProjectionNotCaughtUp: `waitForPosition` was not reached in time."
    })),
    HttpApiEndpoint.get("get", "/transfers/:id", {
      params: { id: Ids.TransferId },
      success: HttpApiSchema.WithHeaders(TransferView, ETag),
      error: [Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    }),
    HttpApiEndpoint.get("history", "/transfers/:id/events", {
      params: { id: Ids.TransferId },
      query: {
        fromVersion: Schema.optional(Ranges.Version(1)).annotate({ description: "First stream version to return (default 1)" }),
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))).annotate({
          description: "Events per page, 1 to 1000 (default 100)"
        })
      },
      success: HttpApiSchema.WithHeaders(TransferHistory, ETag),
      error: [Problems.BadRequest, Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    }).annotateMerge(OpenApi.annotations({
      summary: "The transfer's history",
      description: "The events of the transfer's stream in order (requested, debited, credited or rejected, refunded, " +
        "completed), each with its metadata (actor, correlation and causation ids: the process manager's steps name " +
        "the event that caused them), in the same shape as `GET /accounts/{id}/events`. Page with " +
        "`fromVersion=<nextFromVersion>`. 404 NotFound: no such transfer. 400: `fromVersion` below 1 or `limit` " +
        "outside 1..1000."
    }))
  )
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Transfers",
    description: "Money between two accounts of the same currency, moved by the transfer process manager."
  }))
{}
