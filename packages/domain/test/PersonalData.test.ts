/**
 * The personal-data annotation: its exact shape, its presence on every stored holder name and email,
 * its discoverability by walking the schema AST (as another package does, without our helpers), and
 * erasure: replacing each annotated field by its placeholder leaves a valid, decodable event.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema, SchemaAST } from "effect"
import * as Account from "../src/Account.ts"
import { getPersonalData, personalData, PersonalDataAnnotation, personalDataFields } from "../src/PersonalData.ts"
import * as Transfer from "../src/Transfer.ts"
import { accountEvent } from "./support/Arbitraries.ts"
import { jsonRoundTrip } from "./support/Json.ts"
import { props } from "./support/Props.ts"

/** Every struct that is stored: each event type, and the states that go into snapshots. */
const storedStructs: ReadonlyArray<Schema.Top> = [
  ...Account.AccountEvent.members,
  ...Transfer.TransferEvent.members,
  ...Account.AccountState.members,
  ...Transfer.TransferState.members
]

const fieldNames = (schema: Schema.Top): ReadonlyArray<string> =>
  SchemaAST.isObjects(schema.ast) ? schema.ast.propertySignatures.map((p) => String(p.name)) : []

describe("PersonalData", () => {
  it("has the agreed shape and key", () => {
    assert.strictEqual(PersonalDataAnnotation, "personalData")
    assert.deepStrictEqual(personalData("accountId", "[erased]"), {
      personalData: { subjectField: "accountId", placeholder: "[erased]" }
    })
    assert.deepStrictEqual(getPersonalData(Account.HolderNameField), { subjectField: "accountId", placeholder: "[erased]" })
    assert.isUndefined(getPersonalData(Account.HolderName))
  })

  it("marks every holder name and email field of every stored struct, and nothing else", () => {
    let marked = 0
    for (const struct of storedStructs) {
      const expected = fieldNames(struct).filter((name) => /name|email/i.test(name))
      const found = personalDataFields(struct)
      assert.deepStrictEqual(found.map((f) => f.field), expected)
      marked += found.length
    }
    assert.strictEqual(marked, 6, "AccountOpened, HolderDetailsUpdated and the Open state: name + email each")
  })

  it("is found by walking the event union's type AST with the key alone (as the event store does)", () => {
    const found: Array<string> = []
    const ast = SchemaAST.toType(Account.AccountEvent.ast)
    assert.isTrue(SchemaAST.isUnion(ast))
    for (const member of (ast as SchemaAST.Union).types) {
      if (!SchemaAST.isObjects(member)) continue
      for (const property of member.propertySignatures) {
        if (SchemaAST.resolve(property.type)?.["personalData"] !== undefined) found.push(String(property.name))
      }
    }
    assert.deepStrictEqual(found, ["holderName", "holderEmail", "holderName", "holderEmail"])
  })

  it("names a sibling subject field and a placeholder that the field's own schema accepts", () => {
    for (const struct of storedStructs) {
      const fields = (struct as unknown as { readonly fields: Record<string, Schema.Top> }).fields
      for (const { field, subjectField, placeholder } of personalDataFields(struct)) {
        assert.include(fieldNames(struct), subjectField)
        const fieldSchema = fields[field] as Schema.Codec<unknown, unknown>
        assert.isTrue(Schema.is(fieldSchema)(placeholder), `${field} placeholder ${placeholder}`)
      }
    }
  })

  const roundTrip = jsonRoundTrip(Account.AccountEvent)
  it.prop("erasing an event (fields replaced by their placeholders) leaves a valid, storable event", [accountEvent], ([event]) => {
    const struct = Account.AccountEvent.cases[event._tag]
    const erased: Record<string, unknown> = { ...event }
    for (const { field, placeholder } of personalDataFields(struct)) erased[field] = placeholder
    const decoded = Schema.decodeUnknownSync(Account.AccountEvent)(erased)
    assert.deepStrictEqual(roundTrip(decoded).decoded, decoded)
    if ("holderName" in decoded) {
      assert.strictEqual(decoded.holderName, Account.ErasedHolderName)
      assert.strictEqual(decoded.holderEmail, Account.ErasedHolderEmail)
    }
  }, props)
})
