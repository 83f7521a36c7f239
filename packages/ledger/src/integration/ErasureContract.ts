/**
 * The published contract of category `erasure`: the erasure notice. When the store forgets a data subject
 * (crypto-shredding: `PersonalData.forget` destroys the key and records `SubjectForgotten` in stream
 * `erasure-<subject>`), subscribers receive `SubjectForgotten { subjectId, streams, forgottenAt }` and must
 * erase whatever they derived from the subject (for the ledger the subject id is the account id). Who asked
 * and why stay inside: the requester may be a person, the reason is free text.
 */
import { PersonalData, type RecordedEvent } from "@verity/eventstore"
import { Contract } from "@verity/integration"
import { Effect, Result, Schema } from "effect"
import { Instant } from "./Wire.ts"

export const SubjectForgotten = Schema.TaggedStruct("SubjectForgotten", {
  subjectId: Schema.String,
  /** The streams that held the subject's personal data (e.g. `account-<id>`). */
  streams: Schema.Array(Schema.String),
  forgottenAt: Instant
})

export const ErasureIntegrationEvent = Schema.Union([SubjectForgotten])
export type ErasureIntegrationEvent = typeof ErasureIntegrationEvent.Type

/** The published version of each type. Bump it with every change of shape (and add its fixture). */
export const versions = { SubjectForgotten: 1 } as const satisfies Record<ErasureIntegrationEvent["_tag"], number>

/** What this contract reads of a stored `SubjectForgotten` (`PersonalData.SubjectForgottenData`). */
const StoredErasure = Schema.Struct({
  subjectId: Schema.String,
  streams: Schema.Array(Schema.String),
  forgottenAt: Schema.DateTimeUtcFromString
})
const decodeStored = Schema.decodeUnknownResult(StoredErasure)

const category = PersonalData.ERASURE_CATEGORY

const map = (recorded: RecordedEvent): Effect.Effect<ReadonlyArray<ErasureIntegrationEvent>, Contract.ContractError> => {
  const fail = (detail: string) => Effect.fail(new Contract.ContractError({ reason: "UndecodableEvent", category, detail }))
  // The store writes one type in this category; anything else is not the store's and cannot be vouched for.
  if (recorded.type !== PersonalData.ERASURE_EVENT) return fail(`${recorded.streamId}@${recorded.version}: unknown type ${recorded.type}`)
  const stored = decodeStored(recorded.data)
  if (Result.isFailure(stored)) return fail(`${recorded.streamId}@${recorded.version}: ${stored.failure.message}`)
  return Effect.succeed([SubjectForgotten.make(stored.success)])
}

export const contract = Contract.make({
  category,
  storedTypes: [PersonalData.ERASURE_EVENT],
  schema: ErasureIntegrationEvent,
  versions,
  map
})
