/**
 * Transfer schema evolution: the upcaster chain for the transfer stream. Every transfer event is still at
 * its first version (see `TransferEventVersions`), so the chain is empty. When a transfer event changes,
 * add its new schema and version in Events.ts, the upcaster from the previous stored shape here (written
 * like account/Upcasters.ts), and a golden fixture of the new version in golden/transfer/.
 */
import type { Upcaster } from "../Upcaster.ts"

/** The Transfer upcaster chain, for the event store's codec (`upcasters` option): empty, nothing evolved yet. */
export const upcasters: ReadonlyArray<Upcaster> = []
