/**
 * @verity/domain: the bank ledger domain as pure Deciders (no IO, no clock, no services).
 * Import namespaces: `Account`, `Transfer`, `Decider`, `Money`, `Ids`, `Timestamp`, `Text`, `PersonalData`,
 * `Upcaster` (the shapes of schema evolution; each aggregate exports its chain as `upcasters`).
 */
export * as Account from "./Account.ts"
export * as Decider from "./Decider.ts"
export * as Ids from "./Ids.ts"
export * as Money from "./Money.ts"
export * as PersonalData from "./PersonalData.ts"
export * as Text from "./Text.ts"
export * as Timestamp from "./Timestamp.ts"
export * as Transfer from "./Transfer.ts"
export * as Upcaster from "./Upcaster.ts"
