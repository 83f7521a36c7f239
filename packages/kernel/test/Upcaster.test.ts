/**
 * The upcast chain: current payloads pass through untouched, renames and splits are followed depth first
 * until every piece is current, and every way a chain can fail (unknown type, gap, newer stored version,
 * throwing upcaster, version not raised, loop) is a typed `UpcastError` with its `reason`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { chain, type ChainOptions, key, type StoredPayload, type UpcastContext, type Upcaster, upcaster, UpcastError } from "../src/Upcaster.ts"

const context: UpcastContext = { streamId: "s-1", version: 1, metadata: {}, recordedAt: new Date(0) }
const to = (type: string, schemaVersion: number): Upcaster["upcast"] => (data) => ({ type, schemaVersion, data })
const payload = (type: string, schemaVersion = 1, data: unknown = {}): StoredPayload => ({ type, schemaVersion, data })
const run = (options: ChainOptions, stored: StoredPayload) => chain(options)(stored, context)

/** The failure of a run (the test fails when it succeeds). */
const failureOf = (options: ChainOptions, stored: StoredPayload): UpcastError => {
  const result = run(options, stored)
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("Upcaster.chain", () => {
  it("passes a payload already at its current version through untouched", () => {
    const stored = payload("A", 2, { x: 1 })
    const result = run({ versions: { A: 2 }, upcasters: [] }, stored)
    assert.deepStrictEqual(result, Result.succeed([stored]))
  })

  it("steps a payload version by version to the current one, giving each step the read context", () => {
    const seen: Array<UpcastContext> = []
    const result = run({
      versions: { A: 3 },
      upcasters: [
        upcaster<{ readonly n: number }>("A", 1, (data, ctx) => {
          seen.push(ctx)
          return { type: "A", schemaVersion: 2, data: { n: data.n + 1 } }
        }),
        upcaster<{ readonly n: number }>("A", 2, (data) => ({ type: "A", schemaVersion: 3, data: { n: data.n * 10 } }))
      ]
    }, payload("A", 1, { n: 1 }))
    assert.deepStrictEqual(result, Result.succeed([payload("A", 3, { n: 20 })]))
    assert.deepStrictEqual(seen, [context])
  })

  it("follows renames and splits in order, depth first, until every piece is current", () => {
    const result = run({
      versions: { A: 3, B: 1 },
      upcasters: [
        { type: "Old", fromVersion: 1, upcast: (data) => [{ type: "A", schemaVersion: 1, data }, { type: "B", schemaVersion: 1, data }] },
        { type: "A", fromVersion: 1, upcast: to("A", 2) },
        { type: "A", fromVersion: 2, upcast: to("A", 3) }
      ]
    }, payload("Old"))
    assert.deepStrictEqual(result, Result.succeed([payload("A", 3), payload("B", 1)]))
  })

  it("fails with UnknownType for a type that is neither current nor upcast", () => {
    const error = failureOf({ versions: { A: 1 }, upcasters: [] }, payload("Z", 1))
    assert.instanceOf(error, UpcastError)
    assert.strictEqual(error.reason, "UnknownType")
    assert.strictEqual(error.type, "Z")
    assert.strictEqual(error.message, "unknown event type Z v1")
  })

  it("fails with MissingUpcaster for a gap in the chain, naming the version it stopped at", () => {
    const error = failureOf({ versions: { A: 3 }, upcasters: [{ type: "A", fromVersion: 1, upcast: to("A", 2) }] }, payload("A", 1))
    assert.deepStrictEqual([error.reason, error.type, error.schemaVersion], ["MissingUpcaster", "A", 2])
    assert.strictEqual(error.message, "no upcaster from A v2")
  })

  it("fails with NewerThanCode for a version stored by newer code", () => {
    const error = failureOf({ versions: { A: 2 }, upcasters: [] }, payload("A", 5))
    assert.strictEqual(error.reason, "NewerThanCode")
    assert.strictEqual(error.message, "stored version 5 is newer than this code's version 2")
  })

  it("fails with NotTerminating for a chain that loops", () => {
    const error = failureOf({
      versions: { C: 1 },
      upcasters: [{ type: "A", fromVersion: 1, upcast: to("B", 1) }, { type: "B", fromVersion: 1, upcast: to("A", 1) }]
    }, payload("A"))
    assert.strictEqual(error.reason, "NotTerminating")
    assert.strictEqual(error.message, "upcaster chain does not terminate")
  })

  it("fails with VersionNotRaised or UpcasterFailed for a broken upcaster, never throwing", () => {
    const options: ChainOptions = {
      versions: { A: 3, B: 2 },
      upcasters: [
        { type: "A", fromVersion: 1, upcast: to("A", 1) },
        {
          type: "B",
          fromVersion: 1,
          upcast: () => {
            throw new Error("boom")
          }
        }
      ]
    }
    const notRaised = failureOf(options, payload("A"))
    assert.deepStrictEqual([notRaised.reason, notRaised.message], ["VersionNotRaised", "upcaster A v1 did not raise the version"])
    const threw = failureOf(options, payload("B"))
    assert.deepStrictEqual([threw.reason, threw.message], ["UpcasterFailed", "upcaster B v1 failed: Error: boom"])
  })

  it("refuses two upcasters for one (type, version) when the chain is compiled", () => {
    assert.throws(
      () =>
        chain({ versions: {}, upcasters: [{ type: "A", fromVersion: 1, upcast: to("A", 2) }, { type: "A", fromVersion: 1, upcast: to("A", 2) }] }),
      /two upcasters for A@1/
    )
  })

  it("names a (type, version) pair as type@version", () => {
    assert.strictEqual(key("MoneyDeposited", 2), "MoneyDeposited@2")
  })
})
