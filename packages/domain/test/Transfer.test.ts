/**
 * Transfer state machine as readable scenarios: the happy path, both failure paths, repeated steps
 * (nothing) and steps out of order (rejected with the status and the step).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Transfer from "../src/Transfer.ts"
import { alice, amount, at, bob, EUR, reason, t1, USD } from "./support/Fixtures.ts"
import { specFor } from "./support/Spec.ts"

const { given } = specFor(Transfer.decider)

const request = {
  _tag: "RequestTransfer",
  transferId: t1,
  fromAccountId: alice,
  toAccountId: bob,
  amount: amount(250),
  currency: EUR,
  at
} as const
const requested: Transfer.TransferEvent = { ...request, _tag: "TransferRequested" }
const debited: Transfer.TransferEvent = { _tag: "SourceAccountDebited", transferId: t1, at }
const credited: Transfer.TransferEvent = { _tag: "TargetAccountCredited", transferId: t1, at }
const completed: Transfer.TransferEvent = { _tag: "TransferCompleted", transferId: t1, at }
const debitRejected: Transfer.TransferEvent = {
  _tag: "SourceDebitRejected",
  transferId: t1,
  reason: reason("InsufficientFunds"),
  at
}
const creditRejected: Transfer.TransferEvent = {
  _tag: "TargetCreditRejected",
  transferId: t1,
  reason: reason("AccountIsClosed"),
  at
}
const refunded: Transfer.TransferEvent = { _tag: "SourceAccountRefunded", transferId: t1, at }

const recordDebit = { _tag: "RecordDebit", transferId: t1, at } as const
const recordDebitRejected = { _tag: "RecordDebitRejected", transferId: t1, reason: reason("InsufficientFunds"), at } as const
const recordCredit = { _tag: "RecordCredit", transferId: t1, at } as const
const recordCreditRejected = { _tag: "RecordCreditRejected", transferId: t1, reason: reason("AccountIsClosed"), at } as const
const recordRefund = { _tag: "RecordRefund", transferId: t1, at } as const
const complete = { _tag: "CompleteTransfer", transferId: t1, at } as const

describe("Transfer", () => {
  describe("RequestTransfer", () => {
    it("requests a transfer", () => {
      const state = given([]).when(request).then([requested])
      assert.strictEqual(state.status, "Requested")
    })
    it("decides nothing when requested again with the same facts", () => {
      given([requested]).when({ ...request, at: 5 as typeof at }).thenNothing()
    })
    it("rejects the same transfer id with other facts", () => {
      given([requested]).when({ ...request, currency: USD }).thenRejects("TransferAlreadyRequested", { transferId: t1 })
    })
    it("rejects a transfer from an account to itself", () => {
      given([]).when({ ...request, toAccountId: alice }).thenRejects("SameAccountTransfer", { accountId: alice })
    })
    it("rejects every step before the request", () => {
      given([]).when(recordDebit).thenRejects("TransferNotRequested", { transferId: t1 })
    })
  })

  it("happy path: requested -> debited -> credited -> completed", () => {
    given([requested]).when(recordDebit).then([debited])
    given([requested, debited]).when(recordCredit).then([credited])
    const state = given([requested, debited, credited]).when(complete).then([completed])
    assert.deepStrictEqual(state, {
      status: "Completed",
      transferId: t1,
      fromAccountId: alice,
      toAccountId: bob,
      amount: amount(250),
      currency: EUR
    })
    assert.isTrue(Transfer.isTerminal(state))
  })

  it("debit rejected: failed at the debit, nothing to refund", () => {
    const state = given([requested]).when(recordDebitRejected).then([debitRejected])
    assert.deepStrictEqual(state.status === "Failed" && [state.failedStep, state.reason], ["Debit", reason("InsufficientFunds")])
    given([requested, debitRejected]).when(recordCredit).thenRejects("TransferStepOutOfOrder", {
      status: "Failed",
      step: "RecordCredit"
    })
    given([requested, debitRejected]).when(recordRefund).thenRejects("TransferStepOutOfOrder")
  })

  it("credit rejected: refunding, then failed at the credit with the refund recorded", () => {
    const refunding = given([requested, debited]).when(recordCreditRejected).then([creditRejected])
    assert.deepStrictEqual(refunding.status === "Refunding" && refunding.reason, reason("AccountIsClosed"))
    given([requested, debited, creditRejected]).when(complete).thenRejects("TransferStepOutOfOrder", {
      status: "Refunding",
      step: "CompleteTransfer"
    })
    const failed = given([requested, debited, creditRejected]).when(recordRefund).then([refunded])
    assert.deepStrictEqual(failed.status === "Failed" && [failed.failedStep, failed.reason], ["Credit", reason("AccountIsClosed")])
  })

  it("repeated steps decide nothing, at any later point of the same path", () => {
    given([requested, debited]).when(recordDebit).thenNothing()
    given([requested, debited, credited, completed]).when(recordDebit).thenNothing()
    given([requested, debited, credited, completed]).when(recordCredit).thenNothing()
    given([requested, debited, credited, completed]).when(complete).thenNothing()
    given([requested, debitRejected]).when(recordDebitRejected).thenNothing()
    given([requested, debited, creditRejected, refunded]).when(recordCreditRejected).thenNothing()
    given([requested, debited, creditRejected, refunded]).when(recordRefund).thenNothing()
    given([requested, debited, creditRejected, refunded]).when(recordDebit).thenNothing()
  })

  it("steps out of order are rejected with the status and the step", () => {
    given([requested]).when(recordCredit).thenRejects("TransferStepOutOfOrder", { status: "Requested", step: "RecordCredit" })
    given([requested]).when(complete).thenRejects("TransferStepOutOfOrder", { status: "Requested" })
    given([requested, debited]).when(recordRefund).thenRejects("TransferStepOutOfOrder", { status: "Debited" })
    given([requested, debited, credited]).when(recordCreditRejected).thenRejects("TransferStepOutOfOrder", {
      status: "Credited"
    })
    given([requested, debitRejected]).when(recordDebit).thenRejects("TransferStepOutOfOrder", { status: "Failed" })
  })

  it("evolve ignores events that are not an edge out of the current status", () => {
    assert.deepStrictEqual(Transfer.evolve(Transfer.initialState, completed), Transfer.initialState)
    const done = [requested, debited, credited, completed].reduce(Transfer.evolve, Transfer.initialState)
    assert.deepStrictEqual(Transfer.evolve(done, refunded), done)
  })
})
