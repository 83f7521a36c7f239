/**
 * Storable text: whatever passes the schema can be stored in PostgreSQL and read back unchanged (no NUL
 * or other control characters, no unpaired surrogates, trimmed, bounded).
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { HolderEmail, HolderName } from "../src/Account.ts"
import { boundedText, Reason } from "../src/Text.ts"
import { props } from "./support/Props.ts"

/** What PostgreSQL needs: valid UTF-8 (round-trips through bytes) and no NUL. */
const storable = (text: string) => Buffer.from(text, "utf8").toString("utf8") === text && !text.includes("\u0000")

describe("Text", () => {
  const isText = Schema.is(boundedText(10))

  it("accepts trimmed, non-empty text with any printable characters (surrogate pairs included)", () => {
    assert.deepStrictEqual(["a", "Zoë Ölçü", "李小龍", "a b", "😀", "x".repeat(10)].map(isText), [true, true, true, true, true, true])
  })
  it("rejects empty, untrimmed, control characters, NUL, unpaired surrogates and too long", () => {
    const bad = ["", " a", "a ", "\u00A0a", "a\nb", "a\u0000b", "a\u007Fb", "a\uD800", "\uDC00a", "x".repeat(11)]
    assert.deepStrictEqual(bad.map(isText), bad.map(() => false))
  })
  it.prop("every generated name, email and reason is storable and stays trimmed", [HolderName, HolderEmail, Reason], ([name, email, reason]) => {
    for (const text of [name, email, reason]) {
      assert.isTrue(storable(text), JSON.stringify(text))
      assert.strictEqual(text.trim(), text)
      assert.strictEqual(JSON.parse(JSON.stringify(text)), text)
    }
  }, props)
})
