/**
 * What an inbox handler receives: the relay's headers read into fields (the de-duplication key is
 * `Nats-Msg-Id`), and a payload decoded with the publisher's contract (`Contract.decode`), which refuses
 * an undeclared type or version and data that does not fit the schema.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Contract, InboxMessage, Relay } from "../src/index.ts"

const Opened = Schema.TaggedStruct("AccountOpened", { accountId: Schema.String, amount: Schema.Int })
const account = Contract.make({
  category: "account",
  storedTypes: ["Opened"],
  schema: Schema.Union([Opened]),
  versions: { AccountOpened: 2 },
  map: () => Effect.succeed([])
})

const headers = {
  "Nats-Msg-Id": "e1/1",
  [Relay.Headers.eventId]: "e1",
  [Relay.Headers.stream]: "account-1",
  [Relay.Headers.streamVersion]: "7",
  [Relay.Headers.position]: "12345678901234567890",
  [Relay.Headers.contractType]: "AccountOpened",
  [Relay.Headers.contractVersion]: "2"
}

describe("InboxMessage", () => {
  it("reads the relay's headers; the message id is the de-duplication key", () => {
    const m = InboxMessage.make("verity.account.AccountOpened", 3, headers, "{}")
    assert.deepInclude(m, { id: "e1/1", eventId: "e1", stream: "account-1", streamVersion: 7, contractType: "AccountOpened", contractVersion: 2 })
    assert.strictEqual(m.position, 12345678901234567890n)
    const bare = InboxMessage.make("other.subject", 9, {}, "{}")
    assert.deepInclude(bare, { id: "other.subject#9", stream: "other.subject", eventId: undefined, position: undefined })
  })

  it.effect("decodes a payload with the contract, and refuses what the contract does not declare", () =>
    Effect.gen(function*() {
      const wire = yield* Contract.encode(account, Opened.make({ accountId: "a1", amount: 5 }))
      const m = (payload: unknown) => InboxMessage.make("s", 1, headers, JSON.stringify(payload))
      assert.deepStrictEqual(yield* InboxMessage.decode(account, m(wire)), Opened.make({ accountId: "a1", amount: 5 }))
      const reasons = yield* Effect.forEach([
        { ...wire, version: 3 },
        { ...wire, type: "AccountClosed" },
        { ...wire, data: { accountId: "a1", amount: 1.5 } }
      ], (payload) => Effect.flip(InboxMessage.decode(account, m(payload))).pipe(Effect.map((e) => e.reason)))
      assert.deepStrictEqual(reasons, ["UnknownType", "UnknownType", "InvalidValue"])
      const notJson = yield* Effect.flip(InboxMessage.decode(account, InboxMessage.make("s", 1, headers, "{")))
      assert.strictEqual(notJson.reason, "InvalidValue")
    }))
})
