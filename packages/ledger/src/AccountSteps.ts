/**
 * Exhaustive per-event-type steps for the account read models. Each read model folds account events
 * through a map with one entry per type of the domain's `AccountEvent` union: a function (the step) or
 * `null` (not read). A new event type therefore fails to compile in every read model until it decides
 * what to do with it, and the types a read model subscribes to are derived from the same map, so the
 * subscription and the fold cannot drift apart.
 */
import type { Account } from "@verity/domain"
import { storedAccountTypes } from "./Streams.ts"

export type AccountEventTag = Account.AccountEvent["_tag"]

/** The account event of type `K`. */
export type AccountEventOf<K extends AccountEventTag> = Extract<Account.AccountEvent, { readonly _tag: K }>

/** One step per account event type, given the read model's fold context `C`; `null`: the type is not read. */
export type AccountSteps<C> = {
  readonly [K in AccountEventTag]: ((event: AccountEventOf<K>, context: C) => void) | null
}

/** The event types `steps` reads (those with a step), in the map's order. */
export const readTypes = <C>(steps: AccountSteps<C>): ReadonlyArray<AccountEventTag> =>
  // The map's keys are exactly the union's tags (its type has no other keys).
  (Object.keys(steps) as Array<AccountEventTag>).filter((tag) => steps[tag] !== null)

/** The stored types a read model of `steps` subscribes to: its read types and every type upcast into one. */
export const subscribedTypes = <C>(steps: AccountSteps<C>): ReadonlyArray<string> => storedAccountTypes(readTypes(steps))

/** Runs the step of `event`'s type (nothing when the read model does not read it). */
export const runStep = <C>(steps: AccountSteps<C>, event: Account.AccountEvent, context: C): void => {
  // The map is indexed by the event's own tag, so the step found takes exactly this event; TypeScript
  // does not correlate the two through the union, hence the widening to the union's step type.
  const step = steps[event._tag] as ((event: Account.AccountEvent, context: C) => void) | null
  if (step !== null) step(event, context)
}
