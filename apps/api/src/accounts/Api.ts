/**
 * The accounts contract: commands on one account (open, deposit, withdraw, holder details, freeze,
 * unfreeze, close, overdraft limit), the account summary read model (one, or a page), and the account's
 * history and time travel. The account stream's version is the ETag of every response here; commands take
 * `If-Match` (a stale version is 412) and POSTs take `Idempotency-Key`.
 */
import { Account, Ids, Money, Text } from "@verity/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"
import * as Ranges from "../Ranges.ts"

export const AccountParams = { id: Ids.AccountId }

/** Typed request headers of a command (documented in OpenAPI; `If-Match` is parsed by the handler). */
export const CommandHeaders = {
  "if-match": Schema.optional(Schema.String).annotate({ description: "Expected stream version, e.g. \"3\"" }),
  "idempotency-key": Schema.optional(Schema.String).annotate({ description: "Makes retries of this POST safe" })
}

export const CommandResult = Schema.Struct({
  accountId: Schema.String,
  /** The account stream's version after the command (also the ETag). */
  version: Schema.Int,
  /** Global position of the last event appended (absent when the command changed nothing). */
  position: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "AccountCommandResult" })
export type CommandResult = typeof CommandResult.Type

const ETag = { etag: Schema.String }
const commandSuccess = HttpApiSchema.WithHeaders(CommandResult, ETag)

/**
 * Errors an account command may answer with. The decider may reject any command with any of its rules,
 * so every command declares them all; the endpoint descriptions say which are typical.
 */
const commandErrors = [
  Problems.NotFound,
  Problems.PreconditionFailed,
  Problems.ConcurrencyConflict,
  Problems.SubjectForgotten,
  Problems.ServiceUnavailable,
  Problems.InternalError,
  Problems.AccountAlreadyOpen,
  Problems.AccountIsClosed,
  Problems.AccountIsFrozen,
  Problems.BalanceNotZero,
  Problems.TransfersPending,
  Problems.CurrencyMismatch,
  Problems.InsufficientFunds,
  Problems.BalanceLimitExceeded,
  Problems.OverdraftLimitViolated
] as const

export const OpenAccountPayload = Schema.Struct({
  holderName: Account.HolderName,
  holderEmail: Account.HolderEmail,
  currency: Money.Currency
}).annotate({ identifier: "OpenAccount" })

export const MoneyPayload = Schema.Struct({
  amount: Money.Amount,
  /** Optional: when given it must be the account's currency (422 CurrencyMismatch otherwise). */
  currency: Schema.optionalKey(Money.Currency)
}).annotate({ identifier: "MoneyMovement" })
export const HolderPayload = Schema.Struct({ holderName: Account.HolderName, holderEmail: Account.HolderEmail })
  .annotate({ identifier: "HolderDetails" })
export const FreezePayload = Schema.Struct({ reason: Text.Reason }).annotate({ identifier: "Freeze" })
export const OverdraftPayload = Schema.Struct({ limit: Money.OverdraftLimit }).annotate({ identifier: "OverdraftLimit" })

export const AccountSummary = Schema.Struct({
  accountId: Schema.String,
  holderName: Schema.String,
  holderEmail: Schema.String,
  currency: Schema.String,
  balance: Schema.Int,
  overdraftLimit: Schema.Int,
  status: Schema.Literals(["open", "closed"]),
  frozen: Schema.Boolean,
  version: Schema.Int,
  openedAt: Schema.String,
  updatedAt: Schema.String,
  erased: Schema.Boolean
}).annotate({ identifier: "AccountSummary" })

export const AccountPage = Schema.Struct({
  items: Schema.Array(AccountSummary),
  /** Pass as `after` for the next page; absent on the last page. */
  next: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "AccountPage" })

export const HistoryEvent = Schema.Struct({
  version: Schema.Int,
  position: Schema.String,
  eventId: Schema.String,
  /**
   * The event as the domain reads it today: its CURRENT type and schema version, the data upcast to that
   * version (an old event that an upcaster splits appears as several entries with the same version).
   */
  type: Schema.String,
  schemaVersion: Schema.Int,
  recordedAt: Schema.String,
  data: Schema.Json,
  metadata: Schema.Json,
  /** How the event is stored, when that differs from `type`/`schemaVersion` (an older version). */
  storedAs: Schema.optionalKey(Schema.Struct({ type: Schema.String, schemaVersion: Schema.Int })),
  /** Why the stored event could not be upcast (then `data` is the stored data, unchanged). */
  upcastError: Schema.optionalKey(Schema.String),
  /** Personal-data fields that read as placeholders because the holder was forgotten. */
  erasedFields: Schema.Array(Schema.String)
}).annotate({ identifier: "HistoryEvent" })

export const History = Schema.Struct({
  accountId: Schema.String,
  events: Schema.Array(HistoryEvent),
  /** `fromVersion` of the next page; absent when this page reached the end. */
  nextFromVersion: Schema.optionalKey(Schema.Int)
}).annotate({ identifier: "AccountHistory" })

export const StateAt = Schema.Struct({
  accountId: Schema.String,
  /** The stream version the state reflects (0: before the account was opened). */
  version: Schema.Int,
  state: Account.AccountState
}).annotate({ identifier: "AccountStateAt" })

export class AccountsApi extends HttpApiGroup.make("accounts")
  .add(
    HttpApiEndpoint.post("open", "/accounts", {
      headers: { "idempotency-key": CommandHeaders["idempotency-key"] },
      payload: OpenAccountPayload,
      success: HttpApiSchema.WithHeaders(CommandResult.pipe(HttpApiSchema.status(201)), { ...ETag, location: Schema.String }),
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.post("deposit", "/accounts/:id/deposits", {
      params: AccountParams,
      headers: CommandHeaders,
      payload: MoneyPayload,
      success: commandSuccess,
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.post("withdraw", "/accounts/:id/withdrawals", {
      params: AccountParams,
      headers: CommandHeaders,
      payload: MoneyPayload,
      success: commandSuccess,
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.put("updateHolder", "/accounts/:id/holder", {
      params: AccountParams,
      headers: { "if-match": CommandHeaders["if-match"] },
      payload: HolderPayload,
      success: commandSuccess,
      error: commandErrors
    }).annotate(RequiredScope, "write"),
    HttpApiEndpoint.post("freeze", "/accounts/:id/freeze", {
      params: AccountParams,
      headers: CommandHeaders,
      payload: FreezePayload,
      success: commandSuccess,
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.post("unfreeze", "/accounts/:id/unfreeze", {
      params: AccountParams,
      headers: CommandHeaders,
      success: commandSuccess,
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.post("close", "/accounts/:id/close", {
      params: AccountParams,
      headers: CommandHeaders,
      success: commandSuccess,
      error: commandErrors
    }).middleware(Idempotency).annotate(RequiredScope, "write"),
    HttpApiEndpoint.put("setOverdraftLimit", "/accounts/:id/overdraft", {
      params: AccountParams,
      headers: { "if-match": CommandHeaders["if-match"] },
      payload: OverdraftPayload,
      success: commandSuccess,
      error: commandErrors
    }).annotate(RequiredScope, "write"),
    HttpApiEndpoint.get("get", "/accounts/:id", {
      params: AccountParams,
      query: {
        waitForPosition: Schema.optional(Ranges.Position).annotate({
          description: "Wait (bounded) until the read model has applied the event at this global position"
        })
      },
      success: HttpApiSchema.WithHeaders(AccountSummary, ETag),
      error: [Problems.NotFound, Problems.ProjectionNotCaughtUp, Problems.ServiceUnavailable, Problems.InternalError]
    }),
    HttpApiEndpoint.get("list", "/accounts", {
      query: {
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 500 }))),
        after: Schema.optional(Schema.String.check(Schema.isMaxLength(200)))
      },
      success: AccountPage,
      error: [Problems.ServiceUnavailable, Problems.InternalError]
    }),
    HttpApiEndpoint.get("history", "/accounts/:id/events", {
      params: AccountParams,
      query: {
        fromVersion: Schema.optional(Ranges.Version(1)),
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
      },
      success: HttpApiSchema.WithHeaders(History, ETag),
      error: [Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    }),
    HttpApiEndpoint.get("stateAt", "/accounts/:id/state", {
      params: AccountParams,
      query: {
        version: Schema.optional(Ranges.Version(0)),
        at: Schema.optional(Schema.String).annotate({ description: "ISO 8601 instant, e.g. 2026-01-01T12:00:00Z" })
      },
      success: HttpApiSchema.WithHeaders(StateAt, ETag),
      error: [Problems.BadRequest, Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError]
    })
  )
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Accounts",
    description: "Bank accounts: commands (scope write), the account summary, history and time travel (scope read)."
  }))
{}
