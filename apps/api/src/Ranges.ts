/**
 * The ranges the edge accepts, matched to what the store can hold, so a value out of range is a 400 with
 * the offending parameter named, never an overflow inside the database (which would read as an outage):
 * - a global position is an int8: decimal digits, 0 to 2^63-1;
 * - a stream version travels as a JSON number: 0 (or 1) to 2^53-1, inside int8 and exact in JavaScript;
 * - a path segment may be as long as the longest value a schema accepts once percent-encoded (a stream
 *   name of 255 characters, each up to 4 UTF-8 bytes written as %XX); longer is 400, not 404.
 */
import { Schema } from "effect"

/** The largest global position (PostgreSQL `int8`). */
export const MAX_POSITION = 9_223_372_036_854_775_807n

/** Longest path segment the router matches (longer segments are answered 400 by the edge). */
export const MAX_PATH_SEGMENT = 255 * 4 * 3

const DIGITS = /^\d{1,19}$/

/** A global position given as a string of digits, within int8. */
export const Position = Schema.String.check(
  Schema.isPattern(DIGITS, { expected: "a global position (digits)" }),
  // The pattern check above reports non-digits; this one only judges digit strings.
  Schema.makeFilter((s: string) => !DIGITS.test(s) || BigInt(s) <= MAX_POSITION, {
    expected: `a global position between 0 and ${MAX_POSITION}`
  })
)

/** A stream version at least `minimum`, exact as a JSON number. */
export const Version = (minimum: 0 | 1) => Schema.Int.check(Schema.isBetween({ minimum, maximum: Number.MAX_SAFE_INTEGER }))
