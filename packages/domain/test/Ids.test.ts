/**
 * Ids and timestamps: one canonical spelling per id (lowercase UUID), time bounded to what PostgreSQL
 * and ISO-8601 can represent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { randomUUID } from "node:crypto"
import { AccountId, TransferId } from "../src/Ids.ts"
import { fromEpochMillis, MaxTimestamp, Timestamp } from "../src/Timestamp.ts"

describe("Ids", () => {
  it("accepts lowercase UUIDs (as crypto.randomUUID makes them)", () => {
    assert.isTrue(Schema.is(AccountId)(randomUUID()))
    assert.isTrue(Schema.is(TransferId)("7f000000-0000-4000-8000-000000000001"))
  })
  it("rejects other spellings", () => {
    const bad = [randomUUID().toUpperCase(), "7f000000000040008000000000000001", "not-a-uuid", ""]
    assert.deepStrictEqual(bad.map(Schema.is(AccountId)), [false, false, false, false])
  })
})

describe("Timestamp", () => {
  it("accepts whole milliseconds from 1970 to the end of year 9999", () => {
    assert.strictEqual(new Date(MaxTimestamp).toISOString(), "9999-12-31T23:59:59.999Z")
    assert.strictEqual(fromEpochMillis(0), 0)
    assert.isFalse(Schema.is(Timestamp)(MaxTimestamp + 1))
    assert.throws(() => fromEpochMillis(-1))
    assert.throws(() => fromEpochMillis(1.5))
  })
})
