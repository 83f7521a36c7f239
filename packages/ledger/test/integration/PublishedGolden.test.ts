/**
 * The golden-fixture gate of the ledger's published contracts (see support/Fixtures.ts for the rules): the
 * fixtures under contract/ match the contracts and the wire form of the samples, one folder per published
 * category and nothing else. Then the gate itself is shown to fail on what it guards against: a schema
 * that changes shape without a version bump, and a bump without a new fixture.
 */
import { assert, describe, it } from "@effect/vitest"
import { StreamName } from "@verity/eventstore"
import { Contract } from "@verity/integration"
import { Effect, Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as AccountContract from "../../src/integration/AccountContract.ts"
import * as ErasureContract from "../../src/integration/ErasureContract.ts"
import * as LedgerContracts from "../../src/integration/LedgerContracts.ts"
import * as TransferContract from "../../src/integration/TransferContract.ts"
import { fixturesRoot, load, problems } from "./support/Fixtures.ts"
import { recordedSamples } from "./support/Samples.ts"

const isObject = (value: Schema.Json): value is Schema.JsonObject => typeof value === "object" && value !== null && !Array.isArray(value)

const categoryOf = (stream: string) => Result.getOrThrow(StreamName.parse(stream)).category

/** The wire form of every sample of `contract`'s category, in order. */
const samplesOf = <S extends Contract.EventsSchema>(contract: Contract.CategoryContract<S>) =>
  Effect.runSync(
    Effect.forEach(recordedSamples.filter((e) => categoryOf(e.streamId) === contract.category), (e) => Contract.publish(contract, e))
  ).flat()

describe("Published contract fixtures", () => {
  it("contract/ holds one folder per published category and nothing else", () => {
    assert.deepStrictEqual(Fs.readdirSync(fixturesRoot).sort(), LedgerContracts.all.map((c) => c.category).sort())
  })

  // One line per contract (each keeps its own schema type, which decoding the fixtures needs).
  const gate = {
    account: () => problems(AccountContract.contract, load("account"), samplesOf(AccountContract.contract)),
    transfer: () => problems(TransferContract.contract, load("transfer"), samplesOf(TransferContract.contract)),
    erasure: () => problems(ErasureContract.contract, load("erasure"), samplesOf(ErasureContract.contract))
  }

  it("the gate covers every published contract", () => {
    assert.deepStrictEqual(Object.keys(gate).sort(), LedgerContracts.all.map((c) => c.category).sort())
  })

  for (const [category, check] of Object.entries(gate)) {
    it(`${category}: every type and version has its fixture, and the fixtures and samples agree with the schema`, () => {
      assert.deepStrictEqual(check(), [])
    })
  }

  describe("the gate fails", () => {
    const fixtures = load("account")
    const samples = samplesOf(AccountContract.contract)
    /** The account contract with AccountOpened replaced by `opened` (and only MoneyDeposited beside it). */
    const withOpened = <
      S extends Schema.Top & {
        readonly Type: { readonly _tag: "AccountOpened" }
        readonly EncodingServices: never
        readonly DecodingServices: never
      }
    >(opened: S, version = 1) => {
      const schema = Schema.Union([opened, AccountContract.MoneyDeposited])
      const versions: Readonly<Record<"AccountOpened" | "MoneyDeposited", number>> = { AccountOpened: version, MoneyDeposited: 1 }
      // The gate reads only the schema and versions: the mapping publishes nothing here.
      return Contract.make({ category: "account", storedTypes: [], schema, versions, map: () => Effect.succeed([]) })
    }

    it("on a new required field without a version bump", () => {
      const opened = Schema.TaggedStruct("AccountOpened", { ...AccountContract.AccountOpened.fields, branch: Schema.String })
      assert.include(problems(withOpened(opened), fixtures, []).join("\n"), "account/AccountOpened.v1.json: no longer decodes")
    })

    it("on a removed field without a version bump", () => {
      const { currency: _, ...fields } = AccountContract.AccountOpened.fields
      const opened = Schema.TaggedStruct("AccountOpened", fields)
      assert.include(problems(withOpened(opened), fixtures, []).join("\n"), "account/AccountOpened.v1.json: encodes as")
    })

    it("on a field whose wire form changes without a version bump", () => {
      const opened = Schema.TaggedStruct("AccountOpened", { ...AccountContract.AccountOpened.fields, occurredAt: Schema.DateTimeUtcFromMillis })
      assert.include(problems(withOpened(opened), fixtures, []).join("\n"), "account/AccountOpened.v1.json: no longer decodes")
    })

    it("on a mapping whose output no longer matches the fixture", () => {
      const changed = samples.map((s) => (s.type === "MoneyDeposited" && isObject(s.data) ? { ...s, data: { ...s.data, amount: 1 } } : s))
      assert.include(problems(AccountContract.contract, fixtures, changed).join("\n"), "account/MoneyDeposited.v1.json: the sample encodes as")
    })

    it("on a version bump without a new fixture, and on a dropped old fixture", () => {
      assert.include(problems(withOpened(AccountContract.AccountOpened, 2), fixtures, []).join("\n"), "missing account/AccountOpened.v2.json")
      const withoutV1 = fixtures.filter((f) => f.file !== "account/AccountOpened.v1.json")
      const bumped = [...withoutV1, { ...fixtures.find((f) => f.type === "AccountOpened")!, file: "account/AccountOpened.v2.json", version: 2 }]
      assert.include(problems(withOpened(AccountContract.AccountOpened, 2), bumped, []).join("\n"), "missing account/AccountOpened.v1.json")
    })
  })
})
