/**
 * The `cart_overview` read model: the carts still open (units and total) and how popular each item is
 * (units added across all carts, units checked out). Readers use the views `cart_overview.open_carts` and
 * `cart_overview.popular_items` (Queries.ts), which a rebuild switches atomically to a new generation.
 *
 * Table `open_carts` (key `cart_id`): cart_id uuid, items int (units in the cart), total bigint (minor
 * units), opened_at / updated_at timestamptz (the events' `at`). A checked-out cart leaves the table.
 * Table `popular_items` (key `item_id`): item_id text, added bigint, checked_out bigint.
 */
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { CartEventVersions } from "../Cart.ts"
import { CART_CATEGORY } from "../Streams.ts"
import { apply } from "./Handler.ts"

export const NAME = "cart_overview"

const migrate = (ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`
      CREATE TABLE ${ctx.table("open_carts")} (
        cart_id uuid PRIMARY KEY,
        items integer NOT NULL CHECK (items >= 0),
        total bigint NOT NULL CHECK (total >= 0),
        opened_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`
    yield* sql`
      CREATE TABLE ${ctx.table("popular_items")} (
        item_id text PRIMARY KEY,
        added bigint NOT NULL,
        checked_out bigint NOT NULL
      )`
  })

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "Open carts (units, total) and popular items (units added, units checked out)",
  categories: [CART_CATEGORY],
  // Every cart event type, from the versions map (a new type is included with its first version).
  eventTypes: Object.keys(CartEventVersions),
  tables: [{ name: "open_carts", key: ["cart_id"] }, { name: "popular_items", key: ["item_id"] }],
  migrate,
  apply
})
