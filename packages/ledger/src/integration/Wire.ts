/**
 * The field types of the ledger's published events, declared here rather than borrowed from the domain:
 * a change to a domain schema (a bound, a brand) must not silently change what subscribers receive. Every
 * domain value fits them (the domain's ids, amounts and codes are narrower), and each encodes to plain JSON.
 */
import { Schema } from "effect"

/** An account or transfer id: a lowercase UUID. */
export const Id = Schema.String.check(
  Schema.isPattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, { expected: "a lowercase UUID" })
)

/** An ISO 4217 alphabetic currency code, e.g. "EUR". */
export const Currency = Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO 4217 alphabetic code" }))

/** An amount in integer minor units (cents): never a float. */
export const MinorUnits = Schema.Int

/** An instant, as ISO-8601 UTC text on the wire (e.g. "2026-01-20T10:00:00.000Z"). */
export const Instant = Schema.DateTimeUtc
