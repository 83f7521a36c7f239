/**
 * Stream names: `<category>-<id>`, e.g. `account-8f14e45f-...`. The category (everything before the first
 * `-`) is stored with every event so category reads and subscriptions are index scans. Names are checked
 * before any SQL runs; they are always bound as parameters, never spliced into statements.
 */
import { Result } from "effect"
import { InvalidStreamName } from "./Errors.ts"

export const MAX_STREAM_NAME_LENGTH = 255
const CATEGORY = /^[A-Za-z][A-Za-z0-9_]{0,62}$/
// Printable, no whitespace or control characters; `-` allowed after the category separator.
const ID = /^[\x21-\x7E\u00A0-\uFFFF]+$/u

export interface ParsedStreamName {
  readonly stream: string
  readonly category: string
  readonly id: string
}

export const parse = (stream: string): Result.Result<ParsedStreamName, InvalidStreamName> => {
  if (typeof stream !== "string" || stream.length === 0) {
    return Result.fail(new InvalidStreamName({ stream: String(stream), reason: "empty" }))
  }
  if (stream.length > MAX_STREAM_NAME_LENGTH) {
    return Result.fail(new InvalidStreamName({ stream, reason: `longer than ${MAX_STREAM_NAME_LENGTH} characters` }))
  }
  const dash = stream.indexOf("-")
  if (dash <= 0 || dash === stream.length - 1) {
    return Result.fail(new InvalidStreamName({ stream, reason: "expected <category>-<id>" }))
  }
  const category = stream.slice(0, dash)
  const id = stream.slice(dash + 1)
  if (!CATEGORY.test(category)) {
    return Result.fail(
      new InvalidStreamName({ stream, reason: "category must start with a letter and use only letters, digits and _" })
    )
  }
  if (!ID.test(id)) {
    return Result.fail(new InvalidStreamName({ stream, reason: "id must not contain whitespace or control characters" }))
  }
  return Result.succeed({ stream, category, id })
}

export const validCategory = (category: string): boolean => CATEGORY.test(category)

/** `make("account", id)` = `account-<id>`. */
export const make = (category: string, id: string): string => `${category}-${id}`
