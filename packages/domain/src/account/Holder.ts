/**
 * The account holder's personal data: name and email. Every event and state field holding them uses the
 * `...Field` schemas below, which carry the personal-data annotation (subject: the sibling `accountId`)
 * and a placeholder that is itself a valid name / email, so erased events still decode.
 */
import { Schema } from "effect"
import { personalData } from "../PersonalData.ts"
import { boundedText, solidChar } from "../Text.ts"

/** The holder's full name: trimmed, 1..200 characters, storable. */
export const HolderName = boundedText(200).pipe(Schema.brand("HolderName"))
export type HolderName = typeof HolderName.Type

/**
 * The holder's email: `local@domain.tld` without whitespace or control characters, at most 254
 * characters (RFC 5321 path limit). Deliberately permissive: deliverability is checked elsewhere.
 */
const emailChar = solidChar("@")
export const HolderEmail = Schema.String.check(
  Schema.isPattern(new RegExp(`^${emailChar}+@${emailChar}+\\.${emailChar}+$`), {
    expected: "an email address (local@domain.tld)"
  }),
  Schema.isMaxLength(254)
).pipe(Schema.brand("HolderEmail"))
export type HolderEmail = typeof HolderEmail.Type

/** What an erased name reads as. */
export const ErasedHolderName: HolderName = HolderName.make("[erased]")
/** What an erased email reads as (`.invalid` is reserved: it can never be delivered). */
export const ErasedHolderEmail: HolderEmail = HolderEmail.make("erased@erased.invalid")

/** Schema of a stored name field: personal data of the account in the sibling `accountId` field. */
export const HolderNameField = HolderName.annotate(personalData("accountId", ErasedHolderName))
/** Schema of a stored email field: personal data of the account in the sibling `accountId` field. */
export const HolderEmailField = HolderEmail.annotate(personalData("accountId", ErasedHolderEmail))
