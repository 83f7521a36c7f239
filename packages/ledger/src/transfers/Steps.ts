/**
 * The transfer saga's step table, as a pure function of the transfer's CURRENT state: which account
 * command comes next, and which transfer command records the account's answer.
 *
 * | Transfer status | Account command (to)            | Accepted -> record  | Rejected -> record                 |
 * |-----------------|---------------------------------|---------------------|------------------------------------|
 * | Requested       | DebitForTransfer (source)       | RecordDebit         | RecordDebitRejected (reason: tag)  |
 * | Debited         | CreditForTransfer (target)      | RecordCredit        | RecordCreditRejected (reason: tag) |
 * | Credited        | SettleTransfer (source)         | CompleteTransfer    | impossible: an invariant broke     |
 * | Refunding       | RefundTransfer (source)         | RecordRefund        | impossible: an invariant broke     |
 * | NotRequested, Completed, Failed | nothing         |                     |                                    |
 *
 * Deriving the step from the current status (never from the event that woke the process) is what makes
 * redelivery safe: once a rejection is recorded the status has moved on, so the rejected account command
 * is never sent again (re-sending a credit whose rejection was recorded would create money: the refund
 * gives the source its money back while the target keeps the credit).
 *
 * Every account command carries the transfer id, so an account that already applied the step decides
 * nothing and the step counts as accepted. Settle and refund cannot be rejected in those statuses: an
 * account with a pending debit cannot close and pending debits count against its maximum balance.
 */
import { type Account, Text, type Timestamp, type Transfer } from "@verity/domain"

export type StepName = "Debit" | "Credit" | "Settle" | "Refund"

export interface Step {
  readonly name: StepName
  readonly command: Account.DebitForTransfer | Account.CreditForTransfer | Account.SettleTransfer | Account.RefundTransfer
  /** What to record when the account accepts (or had already applied the step). */
  readonly accepted: Transfer.TransferCommand
  /**
   * What to record when the account rejects, given the reason (the rejection's tag); `undefined` when a
   * rejection cannot happen in this status (the process must stop and show it, not guess).
   */
  readonly rejected: ((reason: Text.Reason) => Transfer.TransferCommand) | undefined
}

/** The next step of a transfer in `state`, with business time `at`; `undefined` when there is nothing to do. */
export const nextStep = (state: Transfer.TransferState, at: Timestamp.Timestamp): Step | undefined => {
  switch (state.status) {
    case "Requested": {
      const { transferId, fromAccountId, toAccountId, amount, currency } = state
      return {
        name: "Debit",
        command: { _tag: "DebitForTransfer", accountId: fromAccountId, transferId, toAccountId, amount, currency, at },
        accepted: { _tag: "RecordDebit", transferId, at },
        rejected: (reason) => ({ _tag: "RecordDebitRejected", transferId, reason, at })
      }
    }
    case "Debited": {
      const { transferId, fromAccountId, toAccountId, amount, currency } = state
      return {
        name: "Credit",
        command: { _tag: "CreditForTransfer", accountId: toAccountId, transferId, fromAccountId, amount, currency, at },
        accepted: { _tag: "RecordCredit", transferId, at },
        rejected: (reason) => ({ _tag: "RecordCreditRejected", transferId, reason, at })
      }
    }
    case "Credited":
      return {
        name: "Settle",
        command: { _tag: "SettleTransfer", accountId: state.fromAccountId, transferId: state.transferId, at },
        accepted: { _tag: "CompleteTransfer", transferId: state.transferId, at },
        rejected: undefined
      }
    case "Refunding":
      return {
        name: "Refund",
        command: { _tag: "RefundTransfer", accountId: state.fromAccountId, transferId: state.transferId, at },
        accepted: { _tag: "RecordRefund", transferId: state.transferId, at },
        rejected: undefined
      }
    case "NotRequested":
    case "Completed":
    case "Failed":
      return undefined
  }
}

/** The reason recorded for a rejection: its tag (e.g. `InsufficientFunds`), as the domain protocol says. */
export const reasonOf = (rejection: { readonly _tag: string }): Text.Reason => Text.Reason.make(rejection._tag)
