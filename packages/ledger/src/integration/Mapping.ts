/**
 * Exhaustive mappings from a category's stored events to its published ones. A mapping has one entry per
 * type of the domain's event union: a function giving the published event, or `null` (deliberately not
 * published). A new stored event type therefore fails to compile in the contract until it decides, as the
 * read models' step maps do (`AccountSteps.ts`).
 *
 * `fromCodec` turns a mapping into a contract's `map`: the stored event is read with the aggregate's codec
 * (upcasting older versions, so one stored event may read as several current ones), then mapped.
 */
import type { EventCodec, RecordedEvent } from "@verity/eventstore"
import { Contract } from "@verity/integration"
import { Effect, Result } from "effect"

/** One entry per tag of `E`: the published event `P` of that stored event, or `null` (not published). */
export type Mapping<E extends { readonly _tag: string }, P> = {
  readonly [K in E["_tag"]]: ((event: Extract<E, { readonly _tag: K }>) => P) | null
}

/** The stored types `mapping` publishes (those with a function), in the map's order. */
export const publishedTypes = <E extends { readonly _tag: string }, P>(mapping: Mapping<E, P>): ReadonlyArray<E["_tag"]> =>
  // The map's keys are exactly the union's tags (its type has no other keys).
  (Object.keys(mapping) as Array<E["_tag"]>).filter((tag) => mapping[tag] !== null)

/**
 * The stored types a contract of `mapping` reads: the published types, plus every older or retired type an
 * upcaster starts from (it may read as a published one, e.g. `FundsWithdrawn` as `MoneyWithdrawn`).
 */
export const storedTypes = <E extends { readonly _tag: string }, P>(
  mapping: Mapping<E, P>,
  upcasters: ReadonlyArray<{ readonly type: string }>
): ReadonlyArray<string> => [...new Set<string>([...publishedTypes(mapping), ...upcasters.map((u) => u.type)])]

/** Maps one current event (nothing when its type is not published). */
export const mapEvent = <E extends { readonly _tag: string }, P>(mapping: Mapping<E, P>, event: E): ReadonlyArray<P> => {
  // The map is indexed by the event's own tag, so the function found takes exactly this event; TypeScript
  // does not correlate the two through the union, hence the widening to the union's function type.
  const map = mapping[event._tag as E["_tag"]] as ((event: E) => P) | null
  return map === null ? [] : [map(event)]
}

/** A contract's `map` for `category`: decode with `codec`, then map each current event through `mapping`. */
export const fromCodec = <E extends { readonly _tag: string }, P>(
  category: string,
  codec: EventCodec.EventCodec<E>,
  mapping: Mapping<E, P>
) =>
(recorded: RecordedEvent): Effect.Effect<ReadonlyArray<P>, Contract.ContractError> => {
  const decoded = codec.decodeResult(recorded)
  if (Result.isFailure(decoded)) {
    return Effect.fail(new Contract.ContractError({ reason: "UndecodableEvent", category, detail: decoded.failure.message }))
  }
  return Effect.succeed(decoded.success.flatMap((event) => mapEvent(mapping, event)))
}
