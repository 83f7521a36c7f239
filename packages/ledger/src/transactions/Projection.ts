/**
 * The `account_transactions` read model: one row per money movement of an account, with the balance right
 * after it. Readers use the view `account_transactions.transactions` (see Queries.ts).
 *
 * Table `transactions` (key `account_id, version`):
 *   account_id uuid, version int (the account stream version of the event), position bigint (global),
 *   kind 'deposit' | 'withdrawal' | 'transfer_debit' | 'transfer_credit' | 'transfer_refund',
 *   amount bigint (SIGNED change of the balance: negative for withdrawals and transfer debits),
 *   currency text, transfer_id uuid (transfers only), counterparty_account_id uuid (the other account of
 *   a transfer; for a refund, the account the debit was meant for), balance_after bigint, at timestamptz.
 *
 * Table `balances` (key `account_id`): the projection's own running state, account_id, currency (from
 *   `AccountOpened`: transfer events carry none) and balance (= the last row's balance_after). It makes
 *   "the previous balance of every account in the batch" one primary-key lookup.
 */
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ACCOUNT_CATEGORY } from "../Streams.ts"
import { apply, storedTypes } from "./Handler.ts"

export const NAME = "account_transactions"

const migrate = (ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${ctx.table("transactions")} (
        account_id uuid NOT NULL,
        version integer NOT NULL,
        position bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'transfer_debit', 'transfer_credit', 'transfer_refund')),
        amount bigint NOT NULL,
        currency text NOT NULL,
        transfer_id uuid,
        counterparty_account_id uuid,
        balance_after bigint NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (account_id, version)
      )`
    yield* sql`CREATE INDEX ON ${ctx.table("transactions")} (transfer_id) WHERE transfer_id IS NOT NULL`
    yield* sql`
      CREATE TABLE ${ctx.table("balances")} (
        account_id uuid PRIMARY KEY,
        currency text NOT NULL,
        balance bigint NOT NULL
      ) WITH (fillfactor = 70)`
  })

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "One row per money movement of an account, with the balance after it",
  categories: [ACCOUNT_CATEGORY],
  eventTypes: storedTypes,
  tables: [
    { name: "transactions", key: ["account_id", "version"] },
    { name: "balances", key: ["account_id"] }
  ],
  migrate,
  apply
})
