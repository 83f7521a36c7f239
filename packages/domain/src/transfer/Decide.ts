/**
 * Transfer `decide`: each step is legal from exactly one status. A step already recorded (the state is
 * at or past it on the same path) decides nothing; any other step out of order is rejected. Requesting
 * again with the same facts decides nothing; with other facts it is rejected.
 */
import { Result } from "effect"
import type { Decider } from "../Decider.ts"
import type { TransferCommand } from "./Commands.ts"
import type { TransferEvent } from "./Events.ts"
import { SameAccountTransfer, TransferAlreadyRequested, TransferNotRequested, type TransferRejection, TransferStepOutOfOrder } from "./Rejections.ts"
import { evolve, initialState, type TransferState, type TransferStatus } from "./State.ts"

export type TransferDecision = Result.Result<ReadonlyArray<TransferEvent>, TransferRejection>

type Step = Exclude<TransferCommand, { readonly _tag: "RequestTransfer" }>

/** The status each step moves the transfer out of. */
const legalFrom: Record<Step["_tag"], TransferStatus> = {
  RecordDebit: "Requested",
  RecordDebitRejected: "Requested",
  RecordCredit: "Debited",
  RecordCreditRejected: "Debited",
  RecordRefund: "Refunding",
  CompleteTransfer: "Credited"
}

/** True when the state already reflects the step (the transfer went through it). */
const alreadyRecorded = (step: Step["_tag"], state: TransferState): boolean => {
  const failedAt = state.status === "Failed" ? state.failedStep : undefined
  switch (step) {
    case "RecordDebit":
      return ["Debited", "Credited", "Completed", "Refunding"].includes(state.status) || failedAt === "Credit"
    case "RecordDebitRejected":
      return failedAt === "Debit"
    case "RecordCredit":
      return state.status === "Credited" || state.status === "Completed"
    case "RecordCreditRejected":
      return state.status === "Refunding" || failedAt === "Credit"
    case "RecordRefund":
      return failedAt === "Credit"
    case "CompleteTransfer":
      return state.status === "Completed"
  }
}

const eventFor = (step: Step): TransferEvent => {
  const { transferId, at } = step
  switch (step._tag) {
    case "RecordDebit":
      return { _tag: "SourceAccountDebited", transferId, at }
    case "RecordDebitRejected":
      return { _tag: "SourceDebitRejected", transferId, reason: step.reason, at }
    case "RecordCredit":
      return { _tag: "TargetAccountCredited", transferId, at }
    case "RecordCreditRejected":
      return { _tag: "TargetCreditRejected", transferId, reason: step.reason, at }
    case "RecordRefund":
      return { _tag: "SourceAccountRefunded", transferId, at }
    case "CompleteTransfer":
      return { _tag: "TransferCompleted", transferId, at }
  }
}

export const decide = (command: TransferCommand, state: TransferState): TransferDecision => {
  if (command._tag === "RequestTransfer") {
    const { transferId, fromAccountId, toAccountId, amount, currency, at } = command
    if (state.status !== "NotRequested") {
      return fromAccountId === state.fromAccountId && toAccountId === state.toAccountId &&
          amount === state.amount && currency === state.currency
        ? Result.succeed([])
        : Result.fail(new TransferAlreadyRequested({ transferId }))
    }
    return fromAccountId === toAccountId
      ? Result.fail(new SameAccountTransfer({ transferId, accountId: fromAccountId }))
      : Result.succeed([{ _tag: "TransferRequested", transferId, fromAccountId, toAccountId, amount, currency, at }])
  }
  if (state.status === "NotRequested") return Result.fail(new TransferNotRequested({ transferId: command.transferId }))
  if (alreadyRecorded(command._tag, state)) return Result.succeed([])
  if (state.status !== legalFrom[command._tag]) {
    return Result.fail(
      new TransferStepOutOfOrder({ transferId: command.transferId, status: state.status, step: command._tag })
    )
  }
  return Result.succeed([eventFor(command)])
}

/** The Transfer aggregate as a Decider. */
export const decider: Decider<TransferCommand, TransferEvent, TransferState, TransferRejection> = {
  initialState,
  decide,
  evolve
}
