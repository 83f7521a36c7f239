import { assert, describe, it } from "@effect/vitest"
import { Checkpoint, type RecordedEvent } from "@verity/eventstore"
import { Effect, Result, Schema } from "effect"
import { Contract } from "../src/index.ts"

const Opened = Schema.TaggedStruct("AccountOpened", { accountId: Schema.String, currency: Schema.String })
const Closed = Schema.TaggedStruct("AccountClosed", { accountId: Schema.String })
const Events = Schema.Union([Opened, Closed])

const account = Contract.make({
  category: "account",
  storedTypes: ["Opened", "Noise", "Bad"],
  schema: Events,
  versions: { AccountOpened: 2, AccountClosed: 1 },
  map: (event) =>
    event.type === "Opened"
      ? Effect.succeed([Opened.make({ accountId: event.streamId, currency: "EUR" })])
      : event.type === "Noise"
      ? Effect.succeed([])
      : Effect.fail(new Contract.ContractError({ reason: "UndecodableEvent", category: "account", detail: event.type }))
})

const recorded = (type: string): RecordedEvent => ({
  streamId: "account-1",
  version: 1,
  position: 1n,
  transactionId: 1n,
  checkpoint: Checkpoint.make(1n, 1n),
  eventId: "00000000-0000-4000-8000-000000000001",
  type,
  schemaVersion: 1,
  data: {},
  metadata: {},
  recordedAt: new Date(0)
})

describe("Contract", () => {
  it.effect("encodes a value as { type, version, data } without its tag", () =>
    Effect.gen(function*() {
      const wire = yield* Contract.encode(account, Closed.make({ accountId: "a" }))
      assert.deepStrictEqual(wire, { type: "AccountClosed", version: 1, data: { accountId: "a" } })
    }))

  it.effect("publishes zero or more integration events per stored event", () =>
    Effect.gen(function*() {
      const one = yield* Contract.publish(account, recorded("Opened"))
      assert.deepStrictEqual(one, [{ type: "AccountOpened", version: 2, data: { accountId: "account-1", currency: "EUR" } }])
      assert.deepStrictEqual(yield* Contract.publish(account, recorded("Noise")), [])
      const failed = yield* Effect.result(Contract.publish(account, recorded("Bad")))
      assert.isTrue(Result.isFailure(failed))
    }))

  it("rejects a value that does not match the schema", () => {
    // Forged on purpose: a value the type system would refuse, as a faulty mapping could produce at run time.
    const invalid = account.encodeResult({ _tag: "AccountClosed", accountId: 7 } as unknown as typeof Closed.Type)
    assert.isTrue(Result.isFailure(invalid) && invalid.failure.reason === "InvalidValue")
  })
})
