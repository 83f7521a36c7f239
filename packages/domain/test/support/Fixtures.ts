/**
 * Named values for the example tests: two accounts, a transfer, a fixed time and tiny event builders,
 * so that each scenario reads as the rule it checks.
 */
import * as Account from "../../src/Account.ts"
import { AccountId, TransferId } from "../../src/Ids.ts"
import { Amount, Currency, OverdraftLimit } from "../../src/Money.ts"
import { Reason } from "../../src/Text.ts"
import { Timestamp } from "../../src/Timestamp.ts"

export const alice = AccountId.make("a11ce000-0000-4000-8000-000000000001")
export const bob = AccountId.make("b0b00000-0000-4000-8000-000000000002")
export const t1 = TransferId.make("7f000000-0000-4000-8000-000000000001")
export const t2 = TransferId.make("7f000000-0000-4000-8000-000000000002")
export const EUR = Currency.make("EUR")
export const USD = Currency.make("USD")
export const at = Timestamp.make(1_700_000_000_000)
export const amount = (n: number): Amount => Amount.make(n)
export const limit = (n: number): OverdraftLimit => OverdraftLimit.make(n)
export const reason = (text: string): Reason => Reason.make(text)

export const ada = {
  holderName: Account.HolderName.make("Ada Lovelace"),
  holderEmail: Account.HolderEmail.make("ada@example.com")
}
export const adaMarried = {
  holderName: Account.HolderName.make("Ada King"),
  holderEmail: Account.HolderEmail.make("ada.king@example.com")
}

// --- account event builders (alice unless told otherwise) ---------------------------------------------

export const opened = (accountId: AccountId = alice, currency: Currency = EUR): Account.AccountEvent => ({
  _tag: "AccountOpened",
  accountId,
  ...ada,
  currency,
  at
})
export const deposited = (n: number, accountId: AccountId = alice, currency: Currency = EUR): Account.AccountEvent => ({
  _tag: "MoneyDeposited",
  accountId,
  amount: amount(n),
  currency,
  at
})
export const withdrawn = (n: number, accountId: AccountId = alice, currency: Currency = EUR): Account.AccountEvent => ({
  _tag: "MoneyWithdrawn",
  accountId,
  amount: amount(n),
  currency,
  at
})
export const limitSet = (n: number, accountId: AccountId = alice): Account.AccountEvent => ({
  _tag: "OverdraftLimitSet",
  accountId,
  limit: limit(n),
  at
})
export const frozen = (accountId: AccountId = alice): Account.AccountEvent => ({
  _tag: "AccountFrozen",
  accountId,
  reason: reason("fraud check"),
  at
})
export const closed = (accountId: AccountId = alice): Account.AccountEvent => ({ _tag: "AccountClosed", accountId, at })
export const debitedFor = (transferId: TransferId, n: number, accountId: AccountId = alice): Account.AccountEvent => ({
  _tag: "MoneyDebitedForTransfer",
  accountId,
  transferId,
  toAccountId: bob,
  amount: amount(n),
  at
})
export const creditedFor = (transferId: TransferId, n: number, accountId: AccountId = bob): Account.AccountEvent => ({
  _tag: "MoneyCreditedForTransfer",
  accountId,
  transferId,
  fromAccountId: alice,
  amount: amount(n),
  at
})
export const refundedFor = (transferId: TransferId, n: number, accountId: AccountId = alice): Account.AccountEvent => ({
  _tag: "MoneyRefundedForTransfer",
  accountId,
  transferId,
  amount: amount(n),
  at
})
export const settledFor = (transferId: TransferId, accountId: AccountId = alice): Account.AccountEvent => ({
  _tag: "TransferDebitSettled",
  accountId,
  transferId,
  at
})
