/**
 * Transfer rejections: one class per broken rule, with the facts. `Schema.TaggedError`s, no HTTP codes.
 */
import { Schema } from "effect"
import { AccountId, TransferId } from "../Ids.ts"
import { TransferCommand } from "./Commands.ts"
import { TransferStatus } from "./State.ts"

/** A step for a transfer that was never requested. */
export class TransferNotRequested extends Schema.TaggedError<TransferNotRequested>()("TransferNotRequested", {
  transferId: TransferId
}) {}

/** The transfer id is already taken by a request with other facts. */
export class TransferAlreadyRequested extends Schema.TaggedError<TransferAlreadyRequested>()(
  "TransferAlreadyRequested",
  { transferId: TransferId }
) {}

/** Source and target are the same account. */
export class SameAccountTransfer extends Schema.TaggedError<SameAccountTransfer>()("SameAccountTransfer", {
  transferId: TransferId,
  accountId: AccountId
}) {}

/** The step is not an edge out of the current status (and was not already recorded). */
export class TransferStepOutOfOrder extends Schema.TaggedError<TransferStepOutOfOrder>()("TransferStepOutOfOrder", {
  transferId: TransferId,
  status: TransferStatus,
  step: Schema.Literals(TransferCommand.discriminants)
}) {}

export const TransferRejection = Schema.Union([
  TransferNotRequested,
  TransferAlreadyRequested,
  SameAccountTransfer,
  TransferStepOutOfOrder
])
export type TransferRejection = typeof TransferRejection.Type
