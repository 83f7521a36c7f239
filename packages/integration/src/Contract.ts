/**
 * The published contract of one stream category: the integration events other services may rely on, their
 * schema and version, and the mapping from a stored event to zero or more of them. What leaves the service
 * is this contract, never the storage format, so stored events can evolve (new versions, upcasters, renamed
 * fields, personal data) without breaking subscribers: only the mapping changes.
 *
 * The mapping receives the stored event as recorded and decodes it itself, through the owning aggregate's
 * codec, so the contract is the one place that knows both shapes.
 */
import { type RecordedEvent, StreamName } from "@verity/eventstore"
import { Effect, Result, Schema } from "effect"

/** An integration event on the wire: its contract type, that type's version and its JSON data. */
export interface IntegrationEvent {
  readonly type: string
  readonly version: number
  readonly data: Schema.Json
}

/** A stored event the contract cannot map, or a mapped value that does not encode to its schema. */
export class ContractError extends Schema.TaggedError<ContractError>()("ContractError", {
  reason: Schema.Literals(["UndecodableEvent", "InvalidValue", "UnknownType"]),
  category: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `contract ${this.category} (${this.reason}): ${this.detail}`
  }
}

/** A schema of tagged integration events (a `Schema.TaggedUnion` or a union of `Schema.TaggedStruct`s). */
export type EventsSchema = Schema.Top & {
  readonly Type: { readonly _tag: string }
  readonly EncodingServices: never
}

/** The tags of the events of `S`. */
export type Tag<S extends EventsSchema> = S["Type"]["_tag"]

export interface ContractOptions<S extends EventsSchema> {
  /** The stream category whose events this contract publishes. */
  readonly category: string
  /**
   * The stored event types `map` reads (the relay reads only these, filtered in SQL). Include the old
   * names of renamed types while stored events still carry them; the erasure category names its own.
   */
  readonly storedTypes: ReadonlyArray<string>
  /** The integration events of the category: a tagged union. */
  readonly schema: S
  /** The published version of each integration event type. Bump it with every change of shape. */
  readonly versions: Readonly<Record<Tag<S>, number>>
  /** Zero or more integration events for one stored event of the category (usually decoded with its codec). */
  readonly map: (event: RecordedEvent) => Effect.Effect<ReadonlyArray<S["Type"]>, ContractError>
}

export interface CategoryContract<S extends EventsSchema = EventsSchema> extends ContractOptions<S> {
  /**
   * Encodes one value of the schema to its wire form. (A method, so that a contract of any schema is a
   * `CategoryContract` of the erased one, as a relay's list of contracts needs.)
   */
  encodeResult(value: S["Type"]): Result.Result<IntegrationEvent, ContractError>
}

const isJsonObject = (value: Schema.Json): value is Schema.JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

export const make = <S extends EventsSchema>(options: ContractOptions<S>): CategoryContract<S> => {
  if (!StreamName.validCategory(options.category)) throw new Error(`invalid contract category ${options.category}`)
  const versions: Readonly<Record<string, number>> = options.versions
  for (const [type, version] of Object.entries(versions)) {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new Error(`contract ${options.category}: version of ${type} must be a positive integer`)
    }
  }
  const encodeJson = Schema.encodeResult(Schema.toCodecJson(options.schema))
  const fail = (reason: ContractError["reason"], detail: string) => Result.fail(new ContractError({ reason, category: options.category, detail }))

  const encodeResult = (value: S["Type"]): Result.Result<IntegrationEvent, ContractError> => {
    const encoded = encodeJson(value)
    if (Result.isFailure(encoded)) return fail("InvalidValue", encoded.failure.message)
    const json: Schema.Json = encoded.success
    if (!isJsonObject(json) || typeof json["_tag"] !== "string") {
      return fail("InvalidValue", "an integration event must encode to a tagged JSON object")
    }
    const { _tag: type, ...data } = json
    const version = versions[type]
    if (version === undefined) return fail("UnknownType", `no version declared for ${type}`)
    return Result.succeed({ type, version, data })
  }

  return { ...options, encodeResult }
}

/** The wire form `{ type, version, data }` of one integration event of `contract`. */
export const encode = <S extends EventsSchema>(
  contract: CategoryContract<S>,
  value: S["Type"]
): Effect.Effect<IntegrationEvent, ContractError> => Effect.fromResult(contract.encodeResult(value))

/** Maps one stored event of the contract's category to the wire form of its integration events. */
export const publish = <S extends EventsSchema>(
  contract: CategoryContract<S>,
  event: RecordedEvent
): Effect.Effect<ReadonlyArray<IntegrationEvent>, ContractError> =>
  Effect.flatMap(contract.map(event), (values) => Effect.forEach(values, (value) => encode(contract, value)))

const WireEvent = Schema.Struct({ type: Schema.String, version: Schema.Int, data: Schema.Record(Schema.String, Schema.Unknown) })
const decodeWire = Schema.decodeUnknownResult(WireEvent)

/**
 * The value of `contract`'s schema carried by a wire form `{ type, version, data }` (what a subscriber
 * receives). A type the contract does not declare, or a version other than the declared one, fails with
 * `UnknownType`; data that does not decode to the schema fails with `InvalidValue`.
 */
export const decode = <S extends EventsSchema>(
  contract: CategoryContract<S>,
  wire: unknown
): Effect.Effect<S["Type"], ContractError, S["DecodingServices"]> => {
  const fail = (reason: ContractError["reason"], detail: string) => Effect.fail(new ContractError({ reason, category: contract.category, detail }))
  const parsed = decodeWire(wire)
  if (Result.isFailure(parsed)) return fail("InvalidValue", parsed.failure.message)
  const { data, type, version } = parsed.success
  const versions: Readonly<Record<string, number>> = contract.versions
  const declared = versions[type]
  if (declared === undefined) return fail("UnknownType", `no type ${type} in the contract`)
  if (declared !== version) return fail("UnknownType", `${type} version ${version} (the contract declares ${declared})`)
  return Schema.decodeUnknownEffect(Schema.toCodecJson(contract.schema))({ ...data, _tag: type }).pipe(
    Effect.mapError((e) => new ContractError({ reason: "InvalidValue", category: contract.category, detail: e.message }))
  )
}
