/**
 * The test contract (category of the test's own): stored `Sent` maps to one `ParcelSent`, `Noise` to none,
 * `Poison` fails; and event builders. Shared by the in-process tests and the relay child process.
 */
import { Effect, Schema } from "effect"
import { Contract } from "../../src/index.ts"

export const ParcelSent = Schema.TaggedStruct("ParcelSent", { parcel: Schema.String, n: Schema.Number })
const SentData = Schema.Struct({ n: Schema.Number })

export const contractFor = (category: string) =>
  Contract.make({
    category,
    storedTypes: ["Sent", "Noise", "Poison"],
    schema: Schema.Union([ParcelSent]),
    versions: { ParcelSent: 3 },
    map: (event) => {
      const fail = (detail: string) => new Contract.ContractError({ reason: "UndecodableEvent", category, detail })
      if (event.type === "Noise") return Effect.succeed([])
      if (event.type === "Poison") return Effect.fail(fail(`poison at ${event.streamId}@${event.version}`))
      return Schema.decodeUnknownEffect(SentData)(event.data).pipe(
        Effect.map(({ n }) => [ParcelSent.make({ parcel: event.streamId, n })]),
        Effect.mapError((e) => fail(e.message))
      )
    }
  })

export const sent = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    eventId: crypto.randomUUID(),
    type: "Sent",
    data: { n: from + i },
    metadata: {
      correlationId: "corr-1",
      causationId: "cause-1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    }
  }))
