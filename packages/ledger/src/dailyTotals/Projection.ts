/**
 * The `daily_totals` read model: per UTC day (of the events' business time `at`) and currency, the sums of
 * the money that moved, in minor units, and how many movements there were. Readers use the view
 * `daily_totals.totals` (see Queries.ts).
 *
 * Table `totals` (key `day, currency`): day date, currency text, deposits, withdrawals, transfers_in
 *   (credits), transfers_out (debits), refunds (all bigint sums of positive amounts), movements bigint.
 * Table `account_currencies` (key `account_id`): each account's currency, from `AccountOpened` (transfer
 *   events carry no currency; this is the projection's own lookup table).
 */
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ACCOUNT_CATEGORY } from "../Streams.ts"
import { apply, storedTypes } from "./Handler.ts"

export const NAME = "daily_totals"

const migrate = (ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${ctx.table("totals")} (
        day date NOT NULL,
        currency text NOT NULL,
        deposits bigint NOT NULL,
        withdrawals bigint NOT NULL,
        transfers_in bigint NOT NULL,
        transfers_out bigint NOT NULL,
        refunds bigint NOT NULL,
        movements bigint NOT NULL,
        PRIMARY KEY (day, currency)
      ) WITH (fillfactor = 50)`
    yield* sql`
      CREATE TABLE ${ctx.table("account_currencies")} (
        account_id uuid PRIMARY KEY,
        currency text NOT NULL
      )`
  })

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "Per UTC day and currency: deposits, withdrawals, transfers in and out, refunds, movement count",
  categories: [ACCOUNT_CATEGORY],
  eventTypes: storedTypes,
  tables: [
    { name: "totals", key: ["day", "currency"] },
    { name: "account_currencies", key: ["account_id"] }
  ],
  migrate,
  apply
})
