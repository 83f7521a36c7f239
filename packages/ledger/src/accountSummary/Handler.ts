/**
 * The account summary's batch handler. A batch is folded in memory into one patch per account (the last
 * holder details, status, limit and version, the sum of its balance changes), then written with ONE
 * set-based statement: an INSERT of the accounts opened in this batch (their whole row) and an
 * UPDATE ... FROM unnest(...) applying the patches of the others, as two data-modifying CTEs. The cost per
 * batch is one round trip whatever its size, and one row write per account touched.
 *
 * GDPR: `SubjectForgotten` (the subject id is the account id) sets the holder's name and email to the
 * domain placeholders and `erased = true`; once erased, no later event can write a name back. On a replay
 * after a forget, the account's events already read as the placeholders (their `erasedFields` say so), so
 * the row never holds the plaintext, and it is marked erased from the first such event on.
 */
import { PgTypes } from "@effect/sql-pg"
import { Account } from "@verity/domain"
import { PersonalData, type RecordedEvent } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type AccountSteps, runStep, subscribedTypes } from "../AccountSteps.ts"
import { accountCodec } from "../Streams.ts"

const ERASED_NAME: string = Account.ErasedHolderName
const ERASED_EMAIL: string = Account.ErasedHolderEmail
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** What one batch changes on one account. `undefined`: left as it is. */
interface Patch {
  readonly accountId: string
  /** The account was opened in this batch: the patch is its whole row. */
  opened: boolean
  /** Some account event (not only an erasure) touched it. */
  touched: boolean
  holderName: string | undefined
  holderEmail: string | undefined
  currency: string | undefined
  balanceDelta: number
  overdraftLimit: number | undefined
  status: "open" | "closed" | undefined
  frozen: boolean | undefined
  version: number | undefined
  openedAt: number | undefined
  updatedAt: number | undefined
  erased: boolean
}

const newPatch = (accountId: string): Patch => ({
  accountId,
  opened: false,
  touched: false,
  holderName: undefined,
  holderEmail: undefined,
  currency: undefined,
  balanceDelta: 0,
  overdraftLimit: undefined,
  status: undefined,
  frozen: undefined,
  version: undefined,
  openedAt: undefined,
  updatedAt: undefined,
  erased: false
})

const credit = (event: { readonly amount: number }, patch: Patch) => {
  patch.balanceDelta += event.amount
}
const debit = (event: { readonly amount: number }, patch: Patch) => {
  patch.balanceDelta -= event.amount
}

/** What each account event changes on its account's patch (every type is read: each bumps the version). */
export const steps: AccountSteps<Patch> = {
  AccountOpened: (event, patch) => {
    patch.opened = true
    patch.holderName = event.holderName
    patch.holderEmail = event.holderEmail
    patch.currency = event.currency
    patch.status = "open"
    patch.frozen = false
    patch.overdraftLimit = 0
    patch.openedAt = event.at
  },
  HolderDetailsUpdated: (event, patch) => {
    patch.holderName = event.holderName
    patch.holderEmail = event.holderEmail
  },
  MoneyDeposited: credit,
  MoneyCreditedForTransfer: credit,
  MoneyRefundedForTransfer: credit,
  MoneyWithdrawn: debit,
  MoneyDebitedForTransfer: debit,
  OverdraftLimitSet: (event, patch) => {
    patch.overdraftLimit = event.limit
  },
  AccountFrozen: (_, patch) => {
    patch.frozen = true
  },
  AccountUnfrozen: (_, patch) => {
    patch.frozen = false
  },
  AccountClosed: (_, patch) => {
    patch.status = "closed"
  },
  // Changes nothing shown, but still touches the account (version, updatedAt).
  TransferDebitSettled: () => {}
}

/** Every account event type that can be stored (current ones, and those an upcaster starts from). */
export const accountTypes = subscribedTypes(steps)

/** Folds one decoded account event into its account's patch. */
const foldEvent = (patch: Patch, event: Account.AccountEvent, recorded: RecordedEvent) => {
  patch.touched = true
  patch.version = recorded.version
  patch.updatedAt = event.at
  runStep(steps, event, patch)
  // Read after a forget: the holder's fields already are the placeholders.
  if (recorded.erasedFields !== undefined && recorded.erasedFields.length > 0) patch.erased = true
  if (patch.erased) {
    patch.holderName = ERASED_NAME
    patch.holderEmail = ERASED_EMAIL
  }
}

const erase = (patch: Patch) => {
  patch.erased = true
  patch.holderName = ERASED_NAME
  patch.holderEmail = ERASED_EMAIL
}

/** The account id a `SubjectForgotten` event is about (undefined: not a ledger account). */
const forgottenAccount = (recorded: RecordedEvent): Result.Result<string | undefined, Projection.ProjectionFailure> => {
  const data = recorded.data as { readonly subjectId?: unknown } | null
  const subject = typeof data === "object" && data !== null ? data.subjectId : undefined
  if (typeof subject !== "string") {
    return Result.fail(
      new Projection.ProjectionFailure({ message: `${recorded.streamId}@${recorded.version}: SubjectForgotten without a subjectId` })
    )
  }
  return Result.succeed(UUID.test(subject) ? subject : undefined)
}

/** Decodes and folds a batch into one patch per account, in event order. */
export const fold = (events: ReadonlyArray<RecordedEvent>): Result.Result<Map<string, Patch>, Projection.ProjectionFailure> => {
  const patches = new Map<string, Patch>()
  const patchOf = (accountId: string) => {
    let patch = patches.get(accountId)
    if (patch === undefined) patches.set(accountId, patch = newPatch(accountId))
    return patch
  }
  for (const recorded of events) {
    if (recorded.type === PersonalData.ERASURE_EVENT) {
      const subject = forgottenAccount(recorded)
      if (Result.isFailure(subject)) return Result.fail(subject.failure)
      if (subject.success !== undefined) erase(patchOf(subject.success))
      continue
    }
    const decoded = accountCodec.decodeResult(recorded)
    if (Result.isFailure(decoded)) {
      return Result.fail(new Projection.ProjectionFailure({ message: decoded.failure.message, cause: decoded.failure }))
    }
    for (const event of decoded.success) foldEvent(patchOf(event.accountId), event, recorded)
  }
  return Result.succeed(patches)
}

const array = (values: ReadonlyArray<unknown>, oid: number) => Result.getOrThrow(PgTypes.array([...values], oid))
const uuids = (values: ReadonlyArray<string>) => array(values, PgTypes.OID.uuid)
const texts = (values: ReadonlyArray<string | null>) => array(values, PgTypes.OID.text)
const int8s = (values: ReadonlyArray<number | null>) => array(values.map((v) => (v === null ? null : BigInt(v))), PgTypes.OID.int8)
const int4s = (values: ReadonlyArray<number | null>) => array(values, PgTypes.OID.int4)
const bools = (values: ReadonlyArray<boolean | null>) => array(values, PgTypes.OID.bool)
/** Epoch milliseconds as `timestamptz` (the driver binds numbers as instants exactly). */
const instants = (values: ReadonlyArray<number | null>) => array(values, PgTypes.OID.timestamptz)

const orNull = <A>(value: A | undefined): A | null => (value === undefined ? null : value)

export const apply = (events: ReadonlyArray<RecordedEvent>, ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const folded = fold(events)
    if (Result.isFailure(folded)) return yield* folded.failure
    const created: Array<Patch> = []
    const changed: Array<Patch> = []
    for (const patch of folded.success.values()) {
      if (!Number.isSafeInteger(patch.balanceDelta)) {
        return yield* new Projection.ProjectionFailure({
          message: `account ${patch.accountId}: balance change ${patch.balanceDelta} is not a safe integer`
        })
      }
      if (patch.opened) created.push(patch)
      else changed.push(patch)
    }
    if (created.length === 0 && changed.length === 0) return
    const table = ctx.table("accounts")
    // One statement, one round trip: insert the accounts opened in this batch, update the others. The extra
    // `account_id = ANY(...)` lets the planner probe the primary key for just those rows instead of hashing
    // the whole table (a rebuild's batches each touch a few hundred of many thousand accounts).
    const changedIds = uuids(changed.map((p) => p.accountId))
    const [result] = yield* sql<{ readonly updated: bigint }>`
      WITH created AS (
        INSERT INTO ${table} (account_id, holder_name, holder_email, currency, balance, overdraft_limit, status, frozen,
          version, opened_at, updated_at, erased)
        SELECT * FROM unnest(
          ${uuids(created.map((p) => p.accountId))}::uuid[],
          ${texts(created.map((p) => p.holderName!))}::text[],
          ${texts(created.map((p) => p.holderEmail!))}::text[],
          ${texts(created.map((p) => p.currency!))}::text[],
          ${int8s(created.map((p) => p.balanceDelta))}::int8[],
          ${int8s(created.map((p) => p.overdraftLimit!))}::int8[],
          ${texts(created.map((p) => p.status!))}::text[],
          ${bools(created.map((p) => p.frozen!))}::bool[],
          ${int4s(created.map((p) => p.version!))}::int4[],
          ${instants(created.map((p) => p.openedAt!))}::timestamptz[],
          ${instants(created.map((p) => p.updatedAt!))}::timestamptz[],
          ${bools(created.map((p) => p.erased))}::bool[]
        )
      ), updated AS (
        UPDATE ${table} AS a SET
          holder_name = CASE WHEN a.erased OR u.erased THEN ${ERASED_NAME} ELSE coalesce(u.holder_name, a.holder_name) END,
          holder_email = CASE WHEN a.erased OR u.erased THEN ${ERASED_EMAIL} ELSE coalesce(u.holder_email, a.holder_email) END,
          balance = a.balance + u.balance_delta,
          overdraft_limit = coalesce(u.overdraft_limit, a.overdraft_limit),
          status = coalesce(u.status, a.status),
          frozen = coalesce(u.frozen, a.frozen),
          version = coalesce(u.version, a.version),
          updated_at = coalesce(u.updated_at, a.updated_at),
          erased = a.erased OR u.erased
        FROM unnest(
          ${changedIds}::uuid[],
          ${texts(changed.map((p) => orNull(p.holderName)))}::text[],
          ${texts(changed.map((p) => orNull(p.holderEmail)))}::text[],
          ${int8s(changed.map((p) => p.balanceDelta))}::int8[],
          ${int8s(changed.map((p) => orNull(p.overdraftLimit)))}::int8[],
          ${texts(changed.map((p) => orNull(p.status)))}::text[],
          ${bools(changed.map((p) => orNull(p.frozen)))}::bool[],
          ${int4s(changed.map((p) => orNull(p.version)))}::int4[],
          ${instants(changed.map((p) => orNull(p.updatedAt)))}::timestamptz[],
          ${bools(changed.map((p) => p.erased))}::bool[],
          ${bools(changed.map((p) => p.touched))}::bool[]
        ) AS u(account_id, holder_name, holder_email, balance_delta, overdraft_limit, status, frozen, version, updated_at, erased, touched)
        WHERE a.account_id = u.account_id AND a.account_id = ANY(${changedIds}::uuid[])
        RETURNING u.touched
      )
      SELECT count(*) FILTER (WHERE touched) AS updated FROM updated`
    // An account event for an account without a row (never opened) is a bug upstream: fail the batch, so
    // the runner isolates the event and parks its stream rather than dropping it. An erasure alone may
    // name a subject that has no account here: nothing to redact then.
    const touched = changed.filter((p) => p.touched).length
    if (Number(result!.updated) !== touched) {
      const found = new Set((yield* sql<{ readonly account_id: string }>`
        SELECT account_id::text AS account_id FROM ${table} WHERE account_id = ANY(${changedIds}::uuid[])`).map((row) => row.account_id))
      const missing = changed.filter((p) => p.touched && !found.has(p.accountId)).map((p) => p.accountId)
      return yield* new Projection.ProjectionFailure({ message: `events for accounts that were never opened: ${missing.slice(0, 5).join(", ")}` })
    }
  })
