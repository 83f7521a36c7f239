/**
 * Business time. The domain never reads a clock: the caller puts the time in the command and the
 * decision copies it into the events. A timestamp is whole milliseconds since the Unix epoch, bounded to
 * 1970-01-01 .. 9999-12-31 UTC so that it always fits a PostgreSQL `timestamptz` and an ISO-8601 year.
 */
import { Schema } from "effect"

/** 9999-12-31T23:59:59.999Z */
export const MaxTimestamp = 253_402_300_799_999

export const Timestamp = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MaxTimestamp })).pipe(
  Schema.brand("Timestamp")
)
export type Timestamp = typeof Timestamp.Type

/** Validates and brands epoch milliseconds (e.g. from `Clock.currentTimeMillis`); throws when out of range. */
export const fromEpochMillis = (millis: number): Timestamp => Timestamp.make(millis)
