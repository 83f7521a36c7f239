/**
 * The `transfers` read model: one row per transfer with its accounts, amount, currency and current saga
 * status, for listing transfers by status without folding every stream. Readers use the view
 * `transfers.transfers` (see Queries.ts).
 *
 * Table `transfers` (key `transfer_id`):
 *   transfer_id uuid, from_account_id / to_account_id uuid, amount bigint (minor units), currency text,
 *   status 'Requested' | 'Debited' | 'Credited' | 'Completed' | 'Refunding' | 'Failed' (the domain's),
 *   failed_step 'Debit' | 'Credit' and reason text (failures and refunds), version int (transfer stream
 *   version of the last applied event), requested_position bigint (global position of `TransferRequested`:
 *   the listing order and its keyset cursor), requested_at / updated_at timestamptz (business time).
 */
import { Transfer } from "@verity/domain"
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { TRANSFER_CATEGORY } from "../Streams.ts"
import { apply } from "./Handler.ts"

export const NAME = "transfers"

/** Every stored transfer event type: the current ones and those an upcaster starts from. */
const eventTypes = [...new Set([...Object.keys(Transfer.TransferEventVersions), ...Transfer.upcasters.map((u) => u.type)])]

const migrate = (ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${ctx.table("transfers")} (
        transfer_id uuid PRIMARY KEY,
        from_account_id uuid NOT NULL,
        to_account_id uuid NOT NULL,
        amount bigint NOT NULL,
        currency text NOT NULL,
        status text NOT NULL CHECK (status IN ('Requested', 'Debited', 'Credited', 'Completed', 'Refunding', 'Failed')),
        failed_step text CHECK (failed_step IN ('Debit', 'Credit')),
        reason text,
        version integer NOT NULL,
        requested_position bigint NOT NULL UNIQUE,
        requested_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      ) WITH (fillfactor = 70)`
    // The filtered listing walks one status in position order.
    yield* sql`CREATE INDEX ON ${ctx.table("transfers")} (status, requested_position)`
  })

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "One row per transfer: accounts, amount, currency and current saga status",
  categories: [TRANSFER_CATEGORY],
  eventTypes,
  tables: [{ name: "transfers", key: ["transfer_id"] }],
  migrate,
  apply
})
