/**
 * The ledger's published contracts, one per stream category it publishes (`account`, `transfer`, and the
 * store's `erasure` notices): what a relay sends to the broker. Nothing else leaves the service.
 */
import type { Contract } from "@verity/integration"
import * as AccountContract from "./AccountContract.ts"
import * as ErasureContract from "./ErasureContract.ts"
import * as TransferContract from "./TransferContract.ts"

export const account = AccountContract.contract
export const transfer = TransferContract.contract
export const erasure = ErasureContract.contract

/** Every published contract of the ledger. */
export const all: ReadonlyArray<Contract.CategoryContract> = [account, transfer, erasure]

/** The contract of `category` (undefined: the category is not published). */
export const forCategory = (category: string): Contract.CategoryContract | undefined => all.find((c) => c.category === category)

export { AccountContract, ErasureContract, TransferContract }
