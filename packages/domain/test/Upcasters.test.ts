/**
 * The Account upcaster chain (src/account/Upcasters.ts): generated payloads of every retired stored shape
 * read as valid current events with exactly converted amounts, v1-era streams fold to the right balance,
 * malformed stored data fails with a message instead of an exception or a wrong event, personal data
 * lands only in annotated fields. (The chain algorithm itself is tested in @verity/kernel.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Account from "../src/Account.ts"
import { fold } from "../src/Decider.ts"
import { personalDataFields } from "../src/PersonalData.ts"
import * as Transfer from "../src/Transfer.ts"
import type { StoredPayload } from "../src/Upcaster.ts"
import {
  accountOpenedV1,
  accountOpenedWithDepositV1,
  fundsWithdrawnV1,
  legacyAmount,
  type LegacyCase,
  legacyCase,
  legacyStream,
  moneyDepositedV1
} from "./support/Arbitraries.ts"
import { account, viaJson } from "./support/StoredEvents.ts"

/** ~200 runs: these properties are cheap, but the machine is shared. */
const upcastProps = { arbitrary: { runs: 200 } } as const

const A = "3f2b8c1e-7d4a-4e6b-9a1c-5d8e2f7b4c90"
const at = 1_552_555_867_112

/** Reads a stored payload as the store does; fails the test with the message when it cannot. */
const readOk = (stored: StoredPayload): ReadonlyArray<Account.AccountEvent> => {
  const read = account.read(viaJson(stored))
  if (Result.isFailure(read)) assert.fail(`${stored.type} v${stored.schemaVersion} ${JSON.stringify(stored.data)}: ${read.failure}`)
  return read.success
}

/** The failure message of reading a stored payload (the test fails when it reads). */
const readError = (stored: StoredPayload): string => {
  const read = account.read(stored)
  if (Result.isSuccess(read)) assert.fail(`expected a failure, read ${JSON.stringify(read.success)}`)
  return read.failure
}

const readsAsExpected = ({ stored, expected }: LegacyCase) => {
  assert.deepStrictEqual(readOk(stored), expected)
}

const deposit = (amount: unknown): StoredPayload => ({ type: "MoneyDeposited", schemaVersion: 1, data: { accountId: A, amount, at } })
const withdrawal = (amount: unknown): StoredPayload => ({ type: "FundsWithdrawn", schemaVersion: 1, data: { accountId: A, amount, at } })
const cents = (stored: StoredPayload): number => (readOk(stored)[0] as Account.MoneyDeposited).amount

describe("Account upcasters", () => {
  describe("generated v1 payloads read as valid current events (total, exact)", () => {
    it.prop("MoneyDeposited v1 (decimal euros) -> MoneyDeposited v2 (cents, EUR)", [moneyDepositedV1], ([c]) => readsAsExpected(c), upcastProps)
    it.prop("FundsWithdrawn v1 -> MoneyWithdrawn v2 (renamed, cents, EUR)", [fundsWithdrawnV1], ([c]) => readsAsExpected(c), upcastProps)
    it.prop("AccountOpened v1 (owner, email; erased or not) -> AccountOpened v2", [accountOpenedV1], ([c]) => readsAsExpected(c), upcastProps)
    it.prop(
      "AccountOpenedWithDeposit v1 -> AccountOpened v2 (+ MoneyDeposited v2 unless 0)",
      [accountOpenedWithDepositV1],
      ([c]) => readsAsExpected(c),
      upcastProps
    )

    it.prop("the generated euros are what the v1 API stored: at most two fraction digits, 0.01 .. 10^10", [legacyAmount], ([{ cents, euros }]) => {
      assert.match(String(euros), /^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$/)
      assert.isAtLeast(euros, 0.01)
      assert.isAtMost(euros, 10_000_000_000)
      assert.strictEqual(Math.round(euros * 100), cents)
    }, upcastProps)

    it.prop("upcasting is deterministic and never mutates the stored data", [legacyCase], ([{ stored }]) => {
      const before = structuredClone(stored)
      const first = account.upcast(stored)
      assert.deepStrictEqual(stored, before)
      assert.deepStrictEqual(account.upcast(stored), first)
    }, upcastProps)

    it.prop("a v1-era stream folds to an open EUR account whose balance is the cents moved", [legacyStream], ([stream]) => {
      const events = stream.flatMap(({ stored }) => readOk(stored))
      assert.deepStrictEqual(events, stream.flatMap(({ expected }) => expected))
      let balance = 0
      for (const e of events) {
        if (e._tag === "MoneyDeposited") balance += e.amount
        if (e._tag === "MoneyWithdrawn") balance -= e.amount
      }
      const state = fold(Account.decider, events)
      assert.strictEqual(state.status, "Open")
      if (state.status === "Open") {
        assert.strictEqual(state.currency, "EUR")
        assert.strictEqual(state.balance, balance)
      }
    }, upcastProps)
  })

  describe("amount conversion", () => {
    it("converts decimal euros to exact cents, including amounts that are not exact in binary", () => {
      const table: ReadonlyArray<readonly [number, number]> = [
        [12.34, 1234],
        [12.5, 1250],
        [0.29, 29], // 0.29 * 100 = 28.999999999999996: truncating would lose a cent
        [19.99, 1999], // 1998.9999999999998
        [1.1, 110], // 110.00000000000001
        [0.07, 7], // 7.000000000000001
        [0.01, 1],
        [250, 25_000],
        [10_000_000_000, 1_000_000_000_000] // MaxAmount
      ]
      for (const [euros, expected] of table) {
        assert.strictEqual(cents(deposit(euros)), expected, `deposit of ${euros}`)
        assert.strictEqual((readOk(withdrawal(euros))[0] as Account.MoneyWithdrawn).amount, expected, `withdrawal of ${euros}`)
      }
    })
    it("rounds a fraction of a cent (never accepted by the v1 API) to the nearest cent, halves up", () => {
      assert.strictEqual(cents(deposit(0.005)), 1)
      assert.strictEqual(cents(deposit(12.344)), 1234)
      assert.strictEqual(cents(deposit(12.346)), 1235)
    })
    it("leaves out-of-range amounts to the current schema, which rejects them with the field's path", () => {
      for (const euros of [0, -5, 0.004, 10_000_000_000.01, 1e300]) {
        const message = readError(deposit(euros))
        assert.include(message, "MoneyDeposited v2", `amount ${euros}`)
        assert.include(message, "amount", `amount ${euros}`)
      }
    })
    it("fails with a clear message, instead of throwing or guessing, when an amount is not a finite number", () => {
      for (const amount of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "12.50", null, undefined, { value: 1 }]) {
        const message = readError(deposit(amount))
        assert.include(message, "upcaster MoneyDeposited v1 failed")
        assert.include(message, "amount must be a finite number of euros")
        assert.include(readError(withdrawal(amount)), "FundsWithdrawn v1: amount must be a finite number of euros")
        const opening = { accountId: A, owner: "Ada Lovelace", email: "ada@example.com", initialDeposit: amount, at }
        assert.include(
          readError({ type: "AccountOpenedWithDeposit", schemaVersion: 1, data: opening }),
          "AccountOpenedWithDeposit v1: initialDeposit must be a finite number of euros"
        )
      }
    })
  })

  describe("malformed stored data", () => {
    it("fails with a clear message when the stored data is not a JSON object", () => {
      for (const type of ["AccountOpened", "AccountOpenedWithDeposit", "MoneyDeposited", "FundsWithdrawn"]) {
        for (const data of [null, [], "x", 12]) {
          assert.include(readError({ type, schemaVersion: 1, data }), `${type} v1: stored data must be a JSON object`)
        }
      }
    })
    it("reports a missing field as a missing key of the current schema", () => {
      const message = readError({ type: "AccountOpened", schemaVersion: 1, data: { accountId: A, email: "ada@example.com", at } })
      assert.include(message, "holderName")
    })
    it("rejects an invalid id or time through the current schema", () => {
      assert.include(readError({ type: "MoneyDeposited", schemaVersion: 1, data: { accountId: "not-a-uuid", amount: 1, at } }), "accountId")
      assert.include(readError({ type: "FundsWithdrawn", schemaVersion: 1, data: { accountId: A, amount: 1, at: -1 } }), "at")
    })
    it("knows no other stored version", () => {
      assert.include(readError({ type: "MoneyDeposited", schemaVersion: 3, data: {} }), "newer than this code's version 2")
      assert.include(readError({ type: "FundsWithdrawn", schemaVersion: 2, data: {} }), "unknown event type FundsWithdrawn v2")
      assert.include(readError({ type: "MoneyWithdrawn", schemaVersion: 1, data: {} }), "no upcaster from MoneyWithdrawn v1")
    })
  })

  describe("AccountOpenedWithDeposit", () => {
    const stored = (initialDeposit: unknown): StoredPayload => ({
      type: "AccountOpenedWithDeposit",
      schemaVersion: 1,
      data: { accountId: A, owner: "Ada Lovelace", email: "ada@example.com", initialDeposit, at }
    })
    it("splits into the opening first, then the deposit, both at the stored time", () => {
      assert.deepStrictEqual(readOk(stored(100.5)).map((e) => [e._tag, e.at]), [["AccountOpened", at], ["MoneyDeposited", at]])
    })
    it("splits into the v1 shapes of its era, which the chain then carries on", () => {
      const pieces = Account.upcasters.find((u) => u.type === "AccountOpenedWithDeposit")!.upcast(stored(100.5).data, {
        streamId: `account-${A}`,
        version: 1,
        metadata: {},
        recordedAt: new Date(at)
      })
      assert.deepStrictEqual(pieces, [
        { type: "AccountOpened", schemaVersion: 1, data: { accountId: A, owner: "Ada Lovelace", email: "ada@example.com", at } },
        { type: "MoneyDeposited", schemaVersion: 1, data: { accountId: A, amount: 100.5, at } }
      ])
    })
    it("is the opening alone when the initial deposit is 0 (also -0)", () => {
      assert.deepStrictEqual(readOk(stored(0)).map((e) => e._tag), ["AccountOpened"])
      assert.deepStrictEqual(readOk(stored(-0)).map((e) => e._tag), ["AccountOpened"])
    })
    it("does not hide a deposit that rounds to nothing: the deposit fails the current schema", () => {
      assert.include(readError(stored(0.001)), "MoneyDeposited v2")
    })
  })

  describe("personal data", () => {
    /** A value that is a valid name and a valid email, recognisable wherever it lands. */
    const marker = (field: string) => `marker-${field}@example.com`
    it("moves every legacy personal-data field into an annotated field of the current events, and nowhere else", () => {
      const samples: Record<string, StoredPayload> = {
        "AccountOpened@1": { type: "AccountOpened", schemaVersion: 1, data: { accountId: A, owner: marker("owner"), email: marker("email"), at } },
        "AccountOpenedWithDeposit@1": {
          type: "AccountOpenedWithDeposit",
          schemaVersion: 1,
          data: { accountId: A, owner: marker("owner"), email: marker("email"), initialDeposit: 1, at }
        }
      }
      assert.deepStrictEqual(Object.keys(Account.legacyPersonalDataFields).sort(), Object.keys(samples).sort())
      for (const [pair, fields] of Object.entries(Account.legacyPersonalDataFields)) {
        const events = readOk(samples[pair]!)
        const found: Array<string> = []
        for (const event of events) {
          const annotated = new Set(personalDataFields(Account.AccountEvent.cases[event._tag]).map((f) => f.field))
          for (const [name, value] of Object.entries(event)) {
            if (typeof value === "string" && value.startsWith("marker-")) {
              assert.isTrue(annotated.has(name), `${pair}: personal data landed in ${event._tag}.${name}, which is not annotated`)
              found.push(value)
            }
          }
          if (annotated.size > 0) assert.strictEqual(event.accountId, A, "the data subject stays the same account")
        }
        assert.deepStrictEqual(found.sort(), fields.map((f) => marker(f.field)).sort(), `${pair}: every legacy field arrives once`)
      }
    })
    it("passes the erased placeholders through, and they stay the current placeholders", () => {
      for (const [pair, fields] of Object.entries(Account.legacyPersonalDataFields)) {
        const [type] = pair.split("@")
        const data: Record<string, unknown> = { accountId: A, initialDeposit: 0, at }
        for (const { field, placeholder } of fields) data[field] = placeholder
        const [opened] = readOk({ type: type!, schemaVersion: 1, data })
        assert.deepStrictEqual(opened, {
          _tag: "AccountOpened",
          accountId: A as Account.AccountOpened["accountId"],
          holderName: Account.ErasedHolderName,
          holderEmail: Account.ErasedHolderEmail,
          currency: "EUR" as Account.AccountOpened["currency"],
          at: at as Account.AccountOpened["at"]
        })
      }
    })
    it("never carries a legacy field over into a current payload", () => {
      for (
        const { stored } of [
          { stored: { type: "AccountOpened", schemaVersion: 1, data: { accountId: A, owner: "Ada", email: "a@b.c", at, extra: 1 } } },
          { stored: deposit(1) },
          { stored: withdrawal(1) }
        ]
      ) {
        const pieces = account.upcast(stored)
        assert.isTrue(Result.isSuccess(pieces))
        if (Result.isSuccess(pieces)) {
          for (const piece of pieces.success) {
            for (const legacy of ["owner", "email", "initialDeposit", "extra"]) assert.notProperty(piece.data, legacy)
          }
        }
      }
    })
  })

  describe("the chains", () => {
    it("Transfer has no upcasters yet (every transfer event is at version 1)", () => {
      assert.deepStrictEqual(Transfer.upcasters, [])
      assert.deepStrictEqual(new Set(Object.values(Transfer.TransferEventVersions)), new Set([1]))
    })
    it("Account has one upcaster per non-current stored version, each leading to a current or retired type", () => {
      const keys = Account.upcasters.map((u) => `${u.type}@${u.fromVersion}`)
      assert.deepStrictEqual(keys, ["AccountOpened@1", "AccountOpenedWithDeposit@1", "MoneyDeposited@1", "FundsWithdrawn@1"])
      for (const u of Account.upcasters) {
        const current = (Account.AccountEventVersions as Record<string, number>)[u.type]
        assert.isTrue(current === undefined || current > u.fromVersion, `${u.type}@${u.fromVersion} is not current`)
      }
    })
  })
})
