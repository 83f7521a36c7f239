/**
 * The transfer process manager in the real ledger runtime (protected store, projection runner) on
 * PostgreSQL: the happy path with its correlation / causation chain, every way an account can say no
 * (debit and credit rejections, with the refund), the step table, and a poison transfer event that parks
 * only its own stream.
 */
import { assert, describe, it as plain, layer } from "@effect/vitest"
import { type Account, Money, Text, Timestamp } from "@verity/domain"
import { EventStore, type RecordedEvent } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import * as TransferProcess from "../../src/TransferProcess.ts"
import { nextStep } from "../../src/transfers/Steps.ts"
import {
  accountEvents,
  accountState,
  balanceOf,
  closeAccount,
  eventually,
  freezeAccount,
  newAccountId,
  newTransferId,
  openAccount,
  requestTransfer,
  runtimeOn,
  settled,
  transferEvents,
  USD
} from "./support.ts"

const NAME = TransferProcess.NAME

/** The account's record of a transfer (outgoing with its status, or incoming), if it took part. */
const legOf = (state: Account.AccountState, transferId: string): Readonly<Record<string, unknown>> | undefined =>
  state.status === "Open" || state.status === "Closed" ? state.transfers[transferId as never] : undefined

describe("transfer steps (pure)", () => {
  const at = Timestamp.fromEpochMillis(1)
  const details = {
    transferId: newTransferId(),
    fromAccountId: newAccountId(),
    toAccountId: newAccountId(),
    amount: Money.Amount.make(5),
    currency: Money.Currency.make("EUR")
  }
  plain("derives each account command from the current status only", () => {
    assert.strictEqual(nextStep({ status: "Requested", ...details }, at)?.command._tag, "DebitForTransfer")
    assert.strictEqual(nextStep({ status: "Requested", ...details }, at)?.command.accountId, details.fromAccountId)
    assert.strictEqual(nextStep({ status: "Debited", ...details }, at)?.command._tag, "CreditForTransfer")
    assert.strictEqual(nextStep({ status: "Debited", ...details }, at)?.command.accountId, details.toAccountId)
    assert.strictEqual(nextStep({ status: "Credited", ...details }, at)?.command._tag, "SettleTransfer")
    const refund = nextStep({ status: "Refunding", ...details, reason: Text.Reason.make("AccountIsClosed") }, at)
    assert.strictEqual(refund?.command._tag, "RefundTransfer")
    assert.strictEqual(refund?.command.accountId, details.fromAccountId)
    assert.isUndefined(refund?.rejected, "a refund cannot be rejected")
    assert.isUndefined(nextStep({ status: "NotRequested" }, at))
    assert.isUndefined(nextStep({ status: "Completed", ...details }, at))
    // Once the credit's rejection is recorded the status is Refunding, then Failed: never a credit again.
    assert.isUndefined(nextStep({ status: "Failed", ...details, failedStep: "Credit", reason: Text.Reason.make("x") }, at))
    assert.isUndefined(nextStep({ status: "Failed", ...details, failedStep: "Debit", reason: Text.Reason.make("x") }, at))
    const debit = nextStep({ status: "Requested", ...details }, at)!
    assert.deepStrictEqual(debit.rejected!(Text.Reason.make("InsufficientFunds")), {
      _tag: "RecordDebitRejected",
      transferId: details.transferId,
      reason: Text.Reason.make("InsufficientFunds"),
      at
    })
  })
})

forEachDatabase((target) => {
  layer(runtimeOn(target, [TransferProcess.projection]), { excludeTestServices: true, timeout: "120 seconds" })(
    "transfer process manager",
    (it) => {
      it.effect("happy path: debit, credit, settle, complete; metadata chains correlation and causation", () =>
        Effect.gen(function*() {
          const a = yield* openAccount({ deposit: 1_000 })
          const b = yield* openAccount({ deposit: 10 })
          const { transferId } = yield* requestTransfer(a, b, 300, {
            metadata: { correlationId: "corr-happy", causationId: "http-request-1", actor: "alice" }
          })
          const final = yield* settled(transferId)
          assert.strictEqual(final.status, "Completed")
          assert.strictEqual(yield* balanceOf(a), 700)
          assert.strictEqual(yield* balanceOf(b), 310)
          assert.deepInclude(legOf(yield* accountState(a), transferId), { _tag: "Outgoing", status: "Settled", amount: 300 })
          assert.deepInclude(legOf(yield* accountState(b), transferId), { _tag: "Incoming", amount: 300 })

          // The process also receives its own TransferCompleted: wait until it has, then nothing more happened.
          const projections = yield* Projections.Projections
          const events = yield* transferEvents(transferId)
          yield* projections.waitFor(NAME, events[events.length - 1]!.checkpoint, "30 seconds")
          const transfer = yield* transferEvents(transferId)
          assert.deepStrictEqual(transfer.map((e) => e.type), [
            "TransferRequested",
            "SourceAccountDebited",
            "TargetAccountCredited",
            "TransferCompleted"
          ])
          const [requested, debited, credited, completed] = transfer as [RecordedEvent, RecordedEvent, RecordedEvent, RecordedEvent]
          assert.deepInclude(requested.metadata, { correlationId: "corr-happy", causationId: "http-request-1", actor: "alice" })
          const byProcess = (event: RecordedEvent, cause: RecordedEvent) =>
            assert.deepInclude(event.metadata, { correlationId: "corr-happy", causationId: cause.eventId, actor: "transfer-process" }, event.type)
          byProcess(debited, requested)
          byProcess(credited, debited)
          byProcess(completed, credited)
          const ofTransfer = (events: ReadonlyArray<RecordedEvent>) =>
            events.filter((e) => (e.data as { transferId?: string }).transferId === transferId)
          const source = ofTransfer(yield* accountEvents(a))
          const target = ofTransfer(yield* accountEvents(b))
          assert.deepStrictEqual(source.map((e) => e.type), ["MoneyDebitedForTransfer", "TransferDebitSettled"])
          assert.deepStrictEqual(target.map((e) => e.type), ["MoneyCreditedForTransfer"])
          byProcess(source[0]!, requested) // the debit answers the request
          byProcess(target[0]!, debited) // the credit answers the debit
          byProcess(source[1]!, credited) // the settlement answers the credit
          const status = yield* projections.statusOf(NAME)
          assert.strictEqual(status.parkedStreams, 0)
          // Replaying the saga would re-issue commands: the runtime refuses to verify or rebuild it.
          assert.strictEqual((yield* projections.verify(NAME).pipe(Effect.flip))._tag, "NotReplayable")
          assert.strictEqual((yield* projections.rebuild(NAME).pipe(Effect.flip))._tag, "NotReplayable")
          assert.strictEqual((yield* transferEvents(transferId)).length, 4)
          assert.strictEqual((yield* accountEvents(a)).length, 4)
        }))

      it.effect("a rejected debit fails the transfer with nothing moved; a rejected credit is refunded", () =>
        Effect.gen(function*() {
          const rich = yield* openAccount({ deposit: 10_000 })
          const poor = yield* openAccount({ deposit: 50 })
          const frozen = yield* openAccount({ deposit: 1_000 })
          yield* freezeAccount(frozen)
          const closed = yield* openAccount()
          yield* closeAccount(closed)
          const dollars = yield* openAccount({ currency: USD })
          const frozenTarget = yield* openAccount()
          yield* freezeAccount(frozenTarget)
          const neverOpened = newAccountId()

          const cases = [
            { name: "insufficient funds", from: poor, to: rich, amount: 100, debit: "InsufficientFunds" },
            { name: "frozen source", from: frozen, to: rich, amount: 100, debit: "AccountIsFrozen" },
            { name: "closed source", from: closed, to: rich, amount: 100, debit: "AccountIsClosed" },
            { name: "unknown source", from: neverOpened, to: rich, amount: 100, debit: "AccountNotOpen" },
            { name: "closed target", from: rich, to: closed, amount: 700, credit: "AccountIsClosed" },
            { name: "currency mismatch", from: rich, to: dollars, amount: 800, credit: "CurrencyMismatch" },
            { name: "unknown target", from: rich, to: neverOpened, amount: 900, credit: "AccountNotOpen" },
            { name: "frozen target accepts credits", from: rich, to: frozenTarget, amount: 1_000 }
          ] as const
          const requested = yield* Effect.forEach(cases, (c) => requestTransfer(c.from, c.to, c.amount), { concurrency: "unbounded" })
          const finals = yield* Effect.forEach(requested, (r) => settled(r.transferId), { concurrency: "unbounded" })

          for (const [i, c] of cases.entries()) {
            const final = finals[i]!
            const { transferId } = requested[i]!
            const types = (yield* transferEvents(transferId)).map((e) => e.type)
            if ("debit" in c) {
              assert.deepInclude(final as object, { status: "Failed", failedStep: "Debit", reason: c.debit }, c.name)
              assert.deepStrictEqual(types, ["TransferRequested", "SourceDebitRejected"], c.name)
              assert.isUndefined(legOf(yield* accountState(c.from), transferId), `${c.name}: nothing debited`)
            } else if ("credit" in c) {
              assert.deepInclude(final as object, { status: "Failed", failedStep: "Credit", reason: c.credit }, c.name)
              assert.deepStrictEqual(types, ["TransferRequested", "SourceAccountDebited", "TargetCreditRejected", "SourceAccountRefunded"], c.name)
              assert.deepInclude(legOf(yield* accountState(c.from), transferId), { _tag: "Outgoing", status: "Refunded" }, c.name)
              assert.isUndefined(legOf(yield* accountState(c.to), transferId), `${c.name}: nothing credited`)
            } else {
              assert.strictEqual(final.status, "Completed", c.name)
            }
          }
          // Money: only the completed transfer moved any; refunds restored the rest.
          assert.strictEqual(yield* balanceOf(rich), 10_000 - 1_000)
          assert.strictEqual(yield* balanceOf(frozenTarget), 1_000)
          assert.strictEqual(yield* balanceOf(poor), 50)
          assert.strictEqual(yield* balanceOf(frozen), 1_000)
          assert.strictEqual(yield* balanceOf(dollars), 0)
          const richEvents = (yield* accountEvents(rich)).map((e) => e.type)
          assert.strictEqual(richEvents.filter((t) => t === "MoneyRefundedForTransfer").length, 3)
        }))

      it.effect("a poison transfer event parks its own stream only; an operator can skip it", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const projections = yield* Projections.Projections
          const a = yield* openAccount({ deposit: 500 })
          const b = yield* openAccount()
          const poison = newTransferId()
          const poisonStream = `transfer-${poison}`
          // Written behind the command handler's back: a TransferRequested whose amount is not a number.
          yield* store.append(poisonStream, "no_stream", [{
            eventId: crypto.randomUUID(),
            type: "TransferRequested",
            data: { transferId: poison, fromAccountId: a, toAccountId: b, amount: "lots", currency: "EUR", at: Date.now() }
          }])
          const others = yield* Effect.forEach([1, 2, 3], (n) => requestTransfer(a, b, n * 10), { concurrency: "unbounded" })
          for (const other of others) assert.strictEqual((yield* settled(other.transferId)).status, "Completed")
          const parked = yield* eventually(
            "the poison stream to be parked",
            Effect.map(projections.parked(NAME), (rows) => rows.find((row) => row.stream === poisonStream))
          )
          assert.strictEqual(parked.eventType, "TransferRequested")
          assert.include(parked.error, "undecodable transfer event")
          const status = yield* projections.statusOf(NAME)
          assert.strictEqual(status.state, "parked")
          assert.strictEqual(status.parkedStreams, 1)
          assert.strictEqual(yield* balanceOf(a), 500 - 60)
          assert.strictEqual(yield* balanceOf(b), 60)
          // The operator moves it to the dead letters; nothing else waits behind it.
          const skipped = yield* projections.skip(NAME, poisonStream, "operator")
          assert.deepStrictEqual(skipped, { resumed: true, applied: 0, skipped: 1, error: undefined })
          assert.strictEqual((yield* projections.statusOf(NAME)).parkedStreams, 0)
          // The runtime keeps flowing.
          const after = yield* requestTransfer(a, b, 1)
          assert.strictEqual((yield* settled(after.transferId)).status, "Completed")
        }))
    }
  )
})
