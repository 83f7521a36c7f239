/**
 * Storable text: string schemas whose every valid value can be written to PostgreSQL `text`/`jsonb`
 * and read back unchanged. They exclude NUL and the other C0 control characters, DEL, and unpaired UTF-16
 * surrogates (not valid UTF-8); they are trimmed, non-empty and bounded in length. The rules are one
 * regular expression, so generated test values satisfy them by construction.
 */
import { Schema } from "effect"

const controls = "\\u0000-\\u001F\\u007F"
const surrogates = "\\uD800-\\uDFFF"
/** Exactly the characters `String.prototype.trim` removes that are not already control characters. */
const spaces = "\\u0020\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF"
const surrogatePair = "[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]"

/** Regex source of one storable character (a surrogate pair counts as one), minus `excluded` ones. */
export const storableChar = (excluded = ""): string => `(?:[^${controls}${surrogates}${excluded}]|${surrogatePair})`
/** Regex source of one storable, non-whitespace character, minus `excluded` ones. */
export const solidChar = (excluded = ""): string => storableChar(spaces + excluded)

const trimmedText = new RegExp(`^${solidChar()}(?:${storableChar()}*${solidChar()})?$`)

/** Trimmed, non-empty, storable text of at most `maxLength` UTF-16 code units. */
export const boundedText = (maxLength: number) =>
  Schema.String.check(
    Schema.isPattern(trimmedText, {
      expected: "non-empty trimmed text without control characters or unpaired surrogates"
    }),
    Schema.isMaxLength(maxLength)
  )

/** A short human-written explanation (freeze reason, failure reason): at most 200 characters. */
export const Reason = boundedText(200).pipe(Schema.brand("Reason"))
export type Reason = typeof Reason.Type
