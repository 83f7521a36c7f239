/**
 * The transfer process manager. PLACEHOLDER: being written; `projection` is the contract (it runs in the
 * projection runtime like a read model, issuing commands instead of writing tables).
 */
import { Effect } from "effect"
import { make, type Projection } from "../Projection.ts"

export const projection: Projection = make({
  name: "transfer_process",
  version: 1,
  categories: ["transfer"],
  eventTypes: [],
  tables: [],
  migrate: () => Effect.void,
  apply: () => Effect.void
})
