/**
 * Schema evolution through PostgreSQL: every golden fixture of the domain (packages/domain/golden/**) is
 * appended RAW (its stored type, schema version and data, exactly as some past version of the code wrote
 * it) with the plain `PgEventStore`, read back, upcast and decoded with the ledger's codecs, encoded again
 * and compared with the fixture's `expected` current events. Then a property: generated payloads of the
 * retired v1 shapes (whole v1-era streams), stored the same way, all read back as the current events they
 * stand for (the codecs are total on old data that went through jsonb).
 */
import { assert, layer } from "@effect/vitest"
import { type EventCodec, EventStore, PgEventStore, type RecordedEvent } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { legacyStream } from "../../../domain/test/support/Arbitraries.ts"
import * as LedgerStreams from "../../src/Streams.ts"

const goldenRoot = fileURLToPath(new URL("../../../domain/golden/", import.meta.url))

interface Golden {
  readonly file: string
  readonly aggregate: "account" | "transfer"
  readonly stored: { readonly type: string; readonly schemaVersion: number; readonly data: unknown }
  readonly expected: ReadonlyArray<{ readonly type: string; readonly data: unknown }>
}

const goldens: ReadonlyArray<Golden> = (["account", "transfer"] as const).flatMap((aggregate) =>
  Fs.readdirSync(Path.join(goldenRoot, aggregate)).filter((name) => name.endsWith(".json")).sort().map((name) => {
    const json = JSON.parse(Fs.readFileSync(Path.join(goldenRoot, aggregate, name), "utf8")) as Omit<Golden, "file" | "aggregate">
    return { file: `${aggregate}/${name}`, aggregate, stored: json.stored, expected: json.expected }
  })
)

const codecs = {
  account: LedgerStreams.accountCodec as unknown as EventCodec.EventCodec<{ readonly _tag: string }>,
  transfer: LedgerStreams.transferCodec as unknown as EventCodec.EventCodec<{ readonly _tag: string }>
}

const decodeOrFail = <E>(codec: EventCodec.EventCodec<E>, event: RecordedEvent): ReadonlyArray<E> => {
  const decoded = codec.decodeResult(event)
  if (Result.isFailure(decoded)) assert.fail(decoded.failure.message)
  return decoded.success
}

forEachDatabase((target) => {
  layer(PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target))), { excludeTestServices: true, timeout: "120 seconds" })(
    "golden events through PostgreSQL",
    (it) => {
      it("finds the golden fixtures", () => {
        assert.isAtLeast(goldens.filter((g) => g.aggregate === "account").length, 20)
        assert.isAtLeast(goldens.filter((g) => g.aggregate === "transfer").length, 7)
        assert.isTrue(goldens.some((g) => g.stored.type === "AccountOpenedWithDeposit"), "retired types are among them")
      })

      for (const golden of goldens) {
        it.effect(`${golden.file}: stored raw, read back, reads as its expected current events`, () =>
          Effect.gen(function*() {
            const store = yield* EventStore
            const stream = `${golden.aggregate}-${crypto.randomUUID()}`
            yield* store.append(stream, "no_stream", [{ eventId: crypto.randomUUID(), ...golden.stored }])
            const [recorded, ...rest] = yield* store.readStream(stream)
            assert.strictEqual(rest.length, 0)
            assert.deepInclude(recorded!, { type: golden.stored.type, schemaVersion: golden.stored.schemaVersion })
            const codec = codecs[golden.aggregate]
            const written = decodeOrFail(codec, recorded!).map(codec.encode)
            for (const event of written) assert.strictEqual(event.schemaVersion, codec.versions[event.type], "current version")
            assert.deepStrictEqual(written.map(({ data, type }) => ({ type, data })), golden.expected)
          }))
      }

      it.effect.prop(
        "generated v1-era account streams, stored raw in PostgreSQL, decode to the current events they stand for",
        [legacyStream],
        ([cases]) =>
          Effect.gen(function*() {
            const store = yield* EventStore
            const stream = `account-${crypto.randomUUID()}`
            yield* store.append(stream, "no_stream", cases.map((c) => ({ eventId: crypto.randomUUID(), ...c.stored })))
            const recorded = yield* store.readStream(stream)
            assert.strictEqual(recorded.length, cases.length)
            const decoded = recorded.flatMap((event) => decodeOrFail(LedgerStreams.accountCodec, event))
            assert.deepStrictEqual(decoded, cases.flatMap((c) => c.expected))
          }),
        { arbitrary: { runs: 100 } }
      )
    }
  )
})
