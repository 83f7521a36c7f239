/**
 * Transfer commands: the request, then one command per saga step, sent by the transfer process manager
 * after it hears back from an account. Steps name only the transfer: its stream holds the facts.
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { Amount, Currency } from "../Money.ts"
import { Reason } from "../Text.ts"
import { Timestamp } from "../Timestamp.ts"

export const RequestTransfer = Schema.TaggedStruct("RequestTransfer", {
  transferId: TransferId,
  fromAccountId: AccountId,
  toAccountId: AccountId,
  amount: Amount,
  currency: Currency,
  at: Timestamp
})
export type RequestTransfer = typeof RequestTransfer.Type

/** The source account debited the money. */
export const RecordDebit = Schema.TaggedStruct("RecordDebit", { transferId: TransferId, at: Timestamp })
export type RecordDebit = typeof RecordDebit.Type

/** The source account rejected the debit (`reason`: typically the rejection's tag). */
export const RecordDebitRejected = Schema.TaggedStruct("RecordDebitRejected", {
  transferId: TransferId,
  reason: Reason,
  at: Timestamp
})
export type RecordDebitRejected = typeof RecordDebitRejected.Type

/** The target account credited the money. */
export const RecordCredit = Schema.TaggedStruct("RecordCredit", { transferId: TransferId, at: Timestamp })
export type RecordCredit = typeof RecordCredit.Type

/** The target account rejected the credit: compensation (refund) is now due. */
export const RecordCreditRejected = Schema.TaggedStruct("RecordCreditRejected", {
  transferId: TransferId,
  reason: Reason,
  at: Timestamp
})
export type RecordCreditRejected = typeof RecordCreditRejected.Type

/** The source account was refunded. */
export const RecordRefund = Schema.TaggedStruct("RecordRefund", { transferId: TransferId, at: Timestamp })
export type RecordRefund = typeof RecordRefund.Type

/** The source account settled the debit. */
export const CompleteTransfer = Schema.TaggedStruct("CompleteTransfer", { transferId: TransferId, at: Timestamp })
export type CompleteTransfer = typeof CompleteTransfer.Type

export const TransferCommand = Schema.Union([
  RequestTransfer,
  RecordDebit,
  RecordDebitRejected,
  RecordCredit,
  RecordCreditRejected,
  RecordRefund,
  CompleteTransfer
]).pipe(Schema.toTaggedUnion("_tag"))
export type TransferCommand = typeof TransferCommand.Type
