/**
 * The `account_summary` read model: one row per account with its holder, currency, balance, overdraft
 * limit, status, frozen flag, the stream version it reflects, when it opened and last changed, and whether
 * its holder was forgotten (GDPR). Readers use the view `account_summary.accounts` (see Queries.ts).
 *
 * Table `accounts` (key `account_id`):
 *   account_id uuid, holder_name text, holder_email text, currency text, balance bigint (minor units),
 *   overdraft_limit bigint, status 'open' | 'closed', frozen bool, version int (account stream version of
 *   the last applied event), opened_at / updated_at timestamptz (the events' `at`, never a clock),
 *   erased bool.
 *
 * Rows are updated in place all the time: `fillfactor = 70` leaves room on each page for HOT updates (no index
 * write per update).
 *
 * Events: every stored account event type (current ones and the retired types the upcasters start from,
 * since the type filter runs on STORED types), plus `SubjectForgotten` from category `erasure`, which
 * redacts the holder's name and email to the domain placeholders.
 */
import { PersonalData } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ACCOUNT_CATEGORY } from "../Streams.ts"
import { accountTypes, apply } from "./Handler.ts"

export const NAME = "account_summary"
export const TABLE = "accounts"

const migrate = (ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${ctx.table(TABLE)} (
        account_id uuid PRIMARY KEY,
        holder_name text NOT NULL,
        holder_email text NOT NULL,
        currency text NOT NULL,
        balance bigint NOT NULL,
        overdraft_limit bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'closed')),
        frozen boolean NOT NULL,
        version integer NOT NULL,
        opened_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        erased boolean NOT NULL
      ) WITH (fillfactor = 70)`
  })

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "One row per account: holder, currency, balance, limit, status; redacted when the holder is forgotten",
  categories: [ACCOUNT_CATEGORY, PersonalData.ERASURE_CATEGORY],
  eventTypes: [...accountTypes, PersonalData.ERASURE_EVENT],
  tables: [{ name: TABLE, key: ["account_id"] }],
  migrate,
  apply
})
