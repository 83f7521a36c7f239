/**
 * An in-memory world for transfer sagas: account and transfer streams, plus a minimal process manager
 * that derives each account command from the transfer's CURRENT status (as the real one must) and
 * records the outcome on the transfer. Crashes (outcome lost) and redeliveries (a successful step sent
 * again) are first-class actions, so the saga laws can check money conservation and at-most-once steps.
 */
import { assert } from "@effect/vitest"
import { Result } from "effect"
import * as Account from "../../src/Account.ts"
import type { AccountId, TransferId } from "../../src/Ids.ts"
import { Amount, MaxAmount } from "../../src/Money.ts"
import { Reason } from "../../src/Text.ts"
import { Timestamp } from "../../src/Timestamp.ts"
import * as Transfer from "../../src/Transfer.ts"

interface Delivered {
  readonly accountCommand: Account.AccountCommand
  readonly transferCommand: Transfer.TransferCommand
}

export class World {
  readonly accountEvents = new Map<AccountId, Array<Account.AccountEvent>>()
  readonly transferEvents = new Map<TransferId, Array<Transfer.TransferEvent>>()
  private readonly accountStates = new Map<AccountId, Account.AccountState>()
  private readonly transferStates = new Map<TransferId, Transfer.TransferState>()
  /** Every successful (account step, transfer record) pair, per transfer, for redelivery. */
  private readonly delivered = new Map<TransferId, Array<Delivered>>()
  private clock = 1_700_000_000_000

  now(): Timestamp {
    return Timestamp.make(this.clock++)
  }

  account(id: AccountId): Account.AccountState {
    return this.accountStates.get(id) ?? Account.initialState
  }

  transfer(id: TransferId): Transfer.TransferState {
    return this.transferStates.get(id) ?? Transfer.initialState
  }

  sendAccount(command: Account.AccountCommand): Account.AccountDecision {
    const before = this.account(command.accountId)
    const decision = Account.decide(command, before)
    if (Result.isSuccess(decision) && decision.success.length > 0) {
      const events = this.accountEvents.get(command.accountId) ?? []
      events.push(...decision.success)
      this.accountEvents.set(command.accountId, events)
      this.accountStates.set(command.accountId, decision.success.reduce(Account.evolve, before))
    }
    return decision
  }

  sendTransfer(command: Transfer.TransferCommand): Transfer.TransferDecision {
    const before = this.transfer(command.transferId)
    const decision = Transfer.decide(command, before)
    if (Result.isSuccess(decision) && decision.success.length > 0) {
      const events = this.transferEvents.get(command.transferId) ?? []
      events.push(...decision.success)
      this.transferEvents.set(command.transferId, events)
      this.transferStates.set(command.transferId, decision.success.reduce(Transfer.evolve, before))
    }
    return decision
  }

  /** The account command the process manager sends next for this transfer, if any. */
  nextAccountCommand(transferId: TransferId): Account.AccountCommand | undefined {
    const state = this.transfer(transferId)
    const at = this.now()
    switch (state.status) {
      case "Requested":
        return {
          _tag: "DebitForTransfer",
          accountId: state.fromAccountId,
          transferId,
          toAccountId: state.toAccountId,
          amount: state.amount,
          currency: state.currency,
          at
        }
      case "Debited":
        return {
          _tag: "CreditForTransfer",
          accountId: state.toAccountId,
          transferId,
          fromAccountId: state.fromAccountId,
          amount: state.amount,
          currency: state.currency,
          at
        }
      case "Credited":
        return { _tag: "SettleTransfer", accountId: state.fromAccountId, transferId, at }
      case "Refunding":
        return { _tag: "RefundTransfer", accountId: state.fromAccountId, transferId, at }
      default:
        return undefined
    }
  }

  /** The transfer command recording the account's answer to `nextAccountCommand`. */
  private outcome(transferId: TransferId, decision: Account.AccountDecision): Transfer.TransferCommand {
    const state = this.transfer(transferId)
    const at = this.now()
    const reason = Result.isFailure(decision) ? Reason.make(decision.failure._tag) : undefined
    switch (state.status) {
      case "Requested":
        return reason === undefined
          ? { _tag: "RecordDebit", transferId, at }
          : { _tag: "RecordDebitRejected", transferId, reason, at }
      case "Debited":
        return reason === undefined
          ? { _tag: "RecordCredit", transferId, at }
          : { _tag: "RecordCreditRejected", transferId, reason, at }
      case "Credited":
        assert.isUndefined(reason, `settle of ${transferId} must never be rejected`)
        return { _tag: "CompleteTransfer", transferId, at }
      default:
        assert.isUndefined(reason, `refund of ${transferId} must never be rejected`)
        return { _tag: "RecordRefund", transferId, at }
    }
  }

  /** The process manager handles one step of the transfer: account command, then transfer record. */
  advance(transferId: TransferId): void {
    const accountCommand = this.nextAccountCommand(transferId)
    if (accountCommand === undefined) return
    const decision = this.sendAccount(accountCommand)
    const transferCommand = this.outcome(transferId, decision)
    const recorded = this.sendTransfer(transferCommand)
    assert.isTrue(Result.isSuccess(recorded) && recorded.success.length === 1, "the outcome is recorded once")
    if (Result.isSuccess(decision)) {
      const list = this.delivered.get(transferId) ?? []
      list.push({ accountCommand, transferCommand })
      this.delivered.set(transferId, list)
    }
  }

  /** The process manager crashes after the account answered, before recording it. */
  crash(transferId: TransferId): void {
    const accountCommand = this.nextAccountCommand(transferId)
    if (accountCommand !== undefined) this.sendAccount(accountCommand)
  }

  /** At-least-once delivery: an earlier successful step reaches the account and the transfer again. */
  redeliver(transferId: TransferId, which: number): void {
    const list = this.delivered.get(transferId) ?? []
    const again = list[which % Math.max(1, list.length)]
    if (again === undefined) return
    const account = this.sendAccount(again.accountCommand)
    assert.isTrue(Result.isSuccess(account) && account.success.length === 0, "a repeated account step decides nothing")
    const transfer = this.sendTransfer(again.transferCommand)
    assert.isTrue(Result.isSuccess(transfer) && transfer.success.length === 0, "a repeated record decides nothing")
  }

  /** The holder withdraws the whole (positive) balance, then closes the account. */
  closeOut(accountId: AccountId): void {
    const state = this.account(accountId)
    if (state.status !== "Open") return
    if (state.balance > 0 && state.balance <= MaxAmount) {
      this.sendAccount({
        _tag: "Withdraw",
        accountId,
        amount: Amount.make(state.balance),
        currency: state.currency,
        at: this.now()
      })
    }
    this.sendAccount({ _tag: "CloseAccount", accountId, at: this.now() })
  }

  /** Runs every transfer to a terminal status (no more disturbances). */
  drain(transferIds: ReadonlyArray<TransferId>): void {
    for (let round = 0; round < 5; round++) {
      for (const id of transferIds) this.advance(id)
    }
  }
}
