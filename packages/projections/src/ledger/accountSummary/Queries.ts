/**
 * Queries on the account summary read model (through its views, so they follow rebuilds).
 * PLACEHOLDER: the read model is being written; signatures are the contract.
 */
import { Effect, type Option } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

export interface AccountSummaryRow {
  readonly accountId: string
  readonly holderName: string
  readonly holderEmail: string
  readonly currency: string
  /** Integer minor units. */
  readonly balance: number
  readonly overdraftLimit: number
  readonly status: "open" | "closed"
  readonly frozen: boolean
  /** The account stream's version this row reflects. */
  readonly version: number
  /** ISO 8601. */
  readonly openedAt: string
  readonly updatedAt: string
  /** True once the holder was forgotten (name and email are placeholders). */
  readonly erased: boolean
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Cursor for the next page, when there is one. */
  readonly next: string | undefined
}

export const get = (_accountId: string): Effect.Effect<Option.Option<AccountSummaryRow>, SqlError, SqlClient> =>
  Effect.die(new Error("account summary queries: not implemented yet"))

export const list = (_page: { readonly limit: number; readonly after?: string }): Effect.Effect<Page<AccountSummaryRow>, SqlError, SqlClient> =>
  Effect.die(new Error("account summary queries: not implemented yet"))
