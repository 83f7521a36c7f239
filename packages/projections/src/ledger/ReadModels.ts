/**
 * The ledger's read models. PLACEHOLDER: being written; `all` is the contract.
 */
import type { Projection } from "../Projection.ts"
export * as AccountSummary from "./accountSummary/Queries.ts"

export const all: ReadonlyArray<Projection> = []
