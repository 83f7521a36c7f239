/**
 * The ledger's read models, each in its own folder (projection definition + tables, batch handler,
 * queries):
 * - `account_summary` (accountSummary/): one row per account, redacted when its holder is forgotten;
 * - `account_transactions` (transactions/): one row per money movement, with the balance after it;
 * - `daily_totals` (dailyTotals/): per UTC day and currency, the sums that moved and the movement count.
 * All handlers are set-based (a few statements per batch, whatever its size) and deterministic (they read
 * the events' business time, never a clock), so rebuilds and `verify` reproduce the live tables exactly.
 * Queries read the stable views `<projection>.<table>`, which follow rebuilds.
 */
import type { Projection } from "@verity/projections"
import { projection as accountSummary } from "./accountSummary/Projection.ts"
import { projection as dailyTotals } from "./dailyTotals/Projection.ts"
import { projection as accountTransactions } from "./transactions/Projection.ts"

export * as AccountSummary from "./accountSummary/Queries.ts"
export * as DailyTotals from "./dailyTotals/Queries.ts"
export * as AccountTransactions from "./transactions/Queries.ts"

export { accountSummary, accountTransactions, dailyTotals }

export const all: ReadonlyArray<Projection.Projection> = [accountSummary, accountTransactions, dailyTotals]
