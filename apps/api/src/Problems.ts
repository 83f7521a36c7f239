/**
 * Every error the API answers with, as RFC 9457 problems (`application/problem+json`: type, title, status,
 * detail, plus facts). HTTP knowledge lives here and nowhere below: the domain's rejections and the
 * store's errors carry no statuses, and `Problems.ts` decides them (409 for a state conflict, 422 for a
 * request that breaks a rule, 404 unknown, 412 stale If-Match, 503 when the database cannot serve).
 * A rule's problem `type` is `urn:verity:problem:<RuleName>` and its `title` the rule name.
 */
import { Schema } from "effect"
import { HttpServerResponse, ProblemDetails } from "effect/http"
import { HttpApiError } from "effect/http-api"

const problemType = (name: string) => `urn:verity:problem:${name}` as const
const rule = <const Name extends string, const Status extends number>(name: Name, status: Status) => ({
  type: problemType(name),
  status,
  title: name
})

const AccountFacts = { accountId: Schema.String }
const Int = Schema.Number

// --- request and access -------------------------------------------------------------------------------------

/** The request itself is malformed (bad If-Match, conflicting parameters); validation failures use the same shape. */
export const BadRequest = HttpApiError.BadRequestProblem
export type BadRequest = HttpApiError.BadRequestProblem
export const badRequest = (detail: string, path: ReadonlyArray<string | number>, message: string) =>
  new HttpApiError.BadRequestProblem({ detail, errors: [{ path: [...path], message }] })

export class Unauthorized extends HttpApiError.Problem<Unauthorized>()("Unauthorized", rule("Unauthorized", 401)) {}

export class Forbidden extends HttpApiError.Problem<Forbidden>()("Forbidden", rule("Forbidden", 403), {
  requiredScope: Schema.String
}) {}

export class NotFound extends HttpApiError.Problem<NotFound>()("NotFound", rule("NotFound", 404), {
  resource: Schema.String,
  id: Schema.String
}) {}

export const notFound = (resource: string, id: string) => new NotFound({ resource, id, detail: `${resource} ${id} does not exist` })

/** A command with `If-Match` whose version is not the stream's current one; the current one is in `ETag`. */
export class PreconditionFailed extends HttpApiError.Problem<PreconditionFailed>()(
  "PreconditionFailed",
  rule("PreconditionFailed", 412),
  { expectedVersion: Int, currentVersion: Int }
) {}

/** Writers kept racing on the same stream and the bounded retries ran out: try again. */
export class ConcurrencyConflict extends HttpApiError.Problem<ConcurrencyConflict>()(
  "ConcurrencyConflict",
  rule("ConcurrencyConflict", 409)
) {}

export class IdempotencyKeyInUse extends HttpApiError.Problem<IdempotencyKeyInUse>()(
  "IdempotencyKeyInUse",
  rule("IdempotencyKeyInUse", 409)
) {}

export class IdempotencyKeyReused extends HttpApiError.Problem<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  rule("IdempotencyKeyReused", 422)
) {}

export class ServiceUnavailable extends HttpApiError.Problem<ServiceUnavailable>()(
  "ServiceUnavailable",
  rule("ServiceUnavailable", 503)
) {}

export class ProjectionNotCaughtUp extends HttpApiError.Problem<ProjectionNotCaughtUp>()(
  "ProjectionNotCaughtUp",
  rule("ProjectionNotCaughtUp", 503),
  { projection: Schema.String, position: Schema.String }
) {}

/** A projection that issues commands (the transfer process manager) cannot be rebuilt by replaying history. */
export class NotReplayable extends HttpApiError.Problem<NotReplayable>()("NotReplayable", rule("NotReplayable", 409), {
  projection: Schema.String
}) {}

export class InternalError extends HttpApiError.Problem<InternalError>()("InternalError", rule("InternalError", 500)) {}

// --- account rules --------------------------------------------------------------------------------------------

export class AccountIsClosed extends HttpApiError.Problem<AccountIsClosed>()(
  "AccountIsClosed",
  rule("AccountIsClosed", 409),
  AccountFacts
) {}

export class AccountIsFrozen extends HttpApiError.Problem<AccountIsFrozen>()(
  "AccountIsFrozen",
  rule("AccountIsFrozen", 409),
  AccountFacts
) {}

export class AccountAlreadyOpen extends HttpApiError.Problem<AccountAlreadyOpen>()(
  "AccountAlreadyOpen",
  rule("AccountAlreadyOpen", 409),
  AccountFacts
) {}

export class BalanceNotZero extends HttpApiError.Problem<BalanceNotZero>()(
  "BalanceNotZero",
  rule("BalanceNotZero", 409),
  { ...AccountFacts, balance: Int }
) {}

export class TransfersPending extends HttpApiError.Problem<TransfersPending>()(
  "TransfersPending",
  rule("TransfersPending", 409),
  { ...AccountFacts, transferIds: Schema.Array(Schema.String) }
) {}

/** New personal data for a holder who was forgotten: refused, so the erasure stays permanent. */
export class SubjectForgotten extends HttpApiError.Problem<SubjectForgotten>()(
  "SubjectForgotten",
  rule("SubjectForgotten", 409),
  { subjectId: Schema.String }
) {}

export class CurrencyMismatch extends HttpApiError.Problem<CurrencyMismatch>()(
  "CurrencyMismatch",
  rule("CurrencyMismatch", 422),
  { ...AccountFacts, accountCurrency: Schema.String, requestedCurrency: Schema.String }
) {}

export class InsufficientFunds extends HttpApiError.Problem<InsufficientFunds>()(
  "InsufficientFunds",
  rule("InsufficientFunds", 422),
  { ...AccountFacts, balance: Int, requested: Int, overdraftLimit: Int }
) {}

export class BalanceLimitExceeded extends HttpApiError.Problem<BalanceLimitExceeded>()(
  "BalanceLimitExceeded",
  rule("BalanceLimitExceeded", 422),
  { ...AccountFacts, balance: Int, reserved: Int, requested: Int, maxBalance: Int }
) {}

export class OverdraftLimitViolated extends HttpApiError.Problem<OverdraftLimitViolated>()(
  "OverdraftLimitViolated",
  rule("OverdraftLimitViolated", 422),
  { ...AccountFacts, balance: Int, requestedLimit: Int }
) {}

// --- transfer rules -----------------------------------------------------------------------------------------

export class SameAccountTransfer extends HttpApiError.Problem<SameAccountTransfer>()(
  "SameAccountTransfer",
  rule("SameAccountTransfer", 422),
  AccountFacts
) {}

/** A transfer naming an account that is not open (it never was, or it is closed). */
export class UnknownAccount extends HttpApiError.Problem<UnknownAccount>()(
  "UnknownAccount",
  rule("UnknownAccount", 422),
  { ...AccountFacts, role: Schema.Literals(["source", "target"]) }
) {}

// --- plain responses (outside any endpoint: routing, limits) ------------------------------------------------

/** A problem response built without an endpoint schema (unknown route, body limit, overload). */
export const response = (status: number, name: string, detail: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe(
    { type: problemType(name), title: name, status, detail },
    { status, contentType: ProblemDetails.contentType, ...(headers === undefined ? {} : { headers }) }
  )

export const internalErrorResponse = (correlationId: string | undefined) =>
  response(500, "InternalError", `unexpected error${correlationId === undefined ? "" : ` (request ${correlationId})`}`)
