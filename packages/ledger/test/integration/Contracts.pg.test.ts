/**
 * The ledger's published contracts on PostgreSQL through the crypto-shredding store (the ledger runtime:
 * `PersonalData` over `PgEventStore`): every stored account and transfer event type, written encrypted and
 * read back decrypted, maps to its declared published types without the holder's name or email; read the
 * way a relay reads (per contract, filtered to its `storedTypes`) it gives the same. After
 * `PersonalData.forget`, the account's events read as placeholders, their published mapping is unchanged
 * (it never held personal data), and the erasure record publishes `SubjectForgotten` naming the subject,
 * its streams and the time, and nothing of who asked or why.
 */
import { assert, layer } from "@effect/vitest"
import { EventStore, PersonalData, type RecordedEvent, StreamName } from "@verity/eventstore"
import { Contract } from "@verity/integration"
import { forEachDatabase } from "@verity/postgres/testing"
import { DateTime, Effect, Option, Result, type Schema } from "effect"
import * as LedgerContracts from "../../src/integration/LedgerContracts.ts"
import { ledgerLayer } from "../support/Ledger.ts"
import { accountId, accountStream, erasureData, expectedTypes, secrets, writes } from "./support/Samples.ts"

const isObject = (value: Schema.Json): value is Schema.JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

const categoryOf = (stream: string) => Result.getOrThrow(StreamName.parse(stream)).category

/** Every published event of the ledger's categories, in the global order, as the relay would read them. */
const publishedAll = Effect.gen(function*() {
  const store = yield* EventStore
  const page = yield* store.readAll({ limit: 1_000, categories: LedgerContracts.all.map((c) => c.category) })
  const out: Array<{ readonly event: RecordedEvent; readonly wire: ReadonlyArray<Contract.IntegrationEvent> }> = []
  for (const event of page.events) {
    out.push({ event, wire: yield* Contract.publish(LedgerContracts.forCategory(categoryOf(event.streamId))!, event) })
  }
  return out
})

/** Per contract, only its stored types (the relay's SQL filter), mapped. */
const publishedFiltered = Effect.gen(function*() {
  const store = yield* EventStore
  const out: Array<Contract.IntegrationEvent> = []
  for (const contract of LedgerContracts.all) {
    const page = yield* store.readAll({ limit: 1_000, categories: [contract.category], types: contract.storedTypes })
    for (const event of page.events) out.push(...(yield* Contract.publish(contract, event)))
  }
  return out
})

forEachDatabase((target) => {
  layer(ledgerLayer(target, { runProjections: false }), { excludeTestServices: true, timeout: "120 seconds" })(
    "published contracts through the crypto-shredding store",
    (it) => {
      it.effect("maps every stored type without personal data, and publishes an erasure notice after a forget", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const personalData = yield* PersonalData.PersonalData
          for (const { events, stream } of writes.filter((w) => categoryOf(w.stream) !== PersonalData.ERASURE_CATEGORY)) {
            yield* store.append(stream, "no_stream", events)
          }

          const before = yield* publishedAll
          assert.isTrue(
            secrets.every((secret) => JSON.stringify(before.map(({ event }) => event.data)).includes(secret)),
            "the store reads the holder's data back decrypted"
          )
          for (const { event, wire } of before) {
            const expected = expectedTypes.find((e) => e.stream === event.streamId && e.type === event.type)
            assert.deepStrictEqual(wire.map((w) => w.type), expected?.publishes, `${event.streamId} ${event.type}`)
          }
          const wireBefore = before.flatMap(({ wire }) => wire)
          for (const secret of secrets) assert.notInclude(JSON.stringify(wireBefore), secret)
          assert.deepStrictEqual(yield* publishedFiltered, wireBefore, "reading only storedTypes publishes the same")

          const forgotten = yield* personalData.forget(accountId, { reason: erasureData.reason, requestedBy: erasureData.requestedBy })
          assert.isTrue(Option.isSome(forgotten.erasure))

          const after = yield* publishedAll
          const account = after.filter(({ event }) => event.streamId === accountStream)
          assert.isTrue(account.some(({ event }) => (event.erasedFields ?? []).length > 0), "the account's events read as placeholders")
          const erasures = after.filter(({ event }) => categoryOf(event.streamId) === PersonalData.ERASURE_CATEGORY)
          assert.strictEqual(erasures.length, 1)
          const [notice] = erasures[0]!.wire
          assert.deepInclude(notice, { type: "SubjectForgotten", version: 1 })
          const data = notice!.data
          if (!isObject(data)) return assert.fail("the notice's data is an object")
          const { forgottenAt, ...rest } = data
          assert.deepStrictEqual(rest, { subjectId: accountId, streams: [accountStream] })
          assert.isTrue(typeof forgottenAt === "string" && Option.isSome(DateTime.make(forgottenAt)), `forgottenAt is an instant`)

          const wireAfter = after.flatMap(({ wire }) => wire)
          assert.deepStrictEqual(wireAfter.filter((w) => w.type !== "SubjectForgotten"), wireBefore, "the mapping is unchanged by the forget")
          const json = JSON.stringify(wireAfter)
          for (const secret of [...secrets, erasureData.reason, erasureData.requestedBy]) assert.notInclude(json, secret)
          assert.deepStrictEqual(yield* publishedFiltered, wireAfter.filter((w) => w.type !== "SubjectForgotten").concat([notice!]))
        }))
    }
  )
})
