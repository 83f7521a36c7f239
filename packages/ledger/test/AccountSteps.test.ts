/**
 * The read models' exhaustive step maps: a map missing an account event type, or with a step for the
 * wrong event, does not compile (checked by the type check of this file), and each read model subscribes
 * to exactly the types its map reads plus the stored types upcast into them.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Account } from "@verity/domain"
import { Schema } from "effect"
import { type AccountEventOf, type AccountSteps, readTypes, runStep, subscribedTypes } from "../src/AccountSteps.ts"
import { steps as summarySteps } from "../src/accountSummary/Handler.ts"
import { steps as dailySteps } from "../src/dailyTotals/Handler.ts"
import * as ReadModels from "../src/ReadModels.ts"
import { ACCOUNT_CATEGORY } from "../src/Streams.ts"
import { steps as transactionSteps } from "../src/transactions/Handler.ts"

const ID = "0b6f2a52-6a8e-4a57-9a43-3c9d2e1f0a11"

/** Reads nothing (each entry is the literal `null`, so it spreads into maps of any context). */
const ignoreAll = {
  AccountOpened: null,
  MoneyDeposited: null,
  MoneyWithdrawn: null,
  OverdraftLimitSet: null,
  HolderDetailsUpdated: null,
  AccountFrozen: null,
  AccountUnfrozen: null,
  AccountClosed: null,
  MoneyDebitedForTransfer: null,
  MoneyCreditedForTransfer: null,
  MoneyRefundedForTransfer: null,
  TransferDebitSettled: null
} as const satisfies AccountSteps<unknown>

describe("AccountSteps", () => {
  it("requires a step (or null) for every account event type", () => {
    const { TransferDebitSettled: _, ...missingOne } = ignoreAll
    // @ts-expect-error TransferDebitSettled has no step: a new event type fails every read model the same way
    const incomplete: AccountSteps<void> = missingOne
    assert.strictEqual(Object.keys(incomplete).length, Object.keys(Account.AccountEventVersions).length - 1)

    const wrongEvent: AccountSteps<void> = {
      ...ignoreAll,
      // @ts-expect-error a deposit step does not take a withdrawal
      MoneyDeposited: (_event: AccountEventOf<"MoneyWithdrawn">) => undefined
    }
    assert.isFunction(wrongEvent.MoneyDeposited)
  })

  it("gives each step its own event type", () => {
    expectTypeOf<Parameters<NonNullable<AccountSteps<void>["OverdraftLimitSet"]>>[0]>().toEqualTypeOf<Account.OverdraftLimitSet>()
    expectTypeOf<keyof AccountSteps<void>>().toEqualTypeOf<Account.AccountEvent["_tag"]>()
  })

  it("runs the step of the event's type only", () => {
    const seen: Array<string> = []
    const steps: AccountSteps<Array<string>> = {
      ...ignoreAll,
      AccountFrozen: (event, log) => {
        log.push(`frozen ${event.accountId}`)
      }
    }
    const decode = Schema.decodeUnknownSync(Account.AccountEvent)
    const frozen = decode({ _tag: "AccountFrozen", accountId: ID, reason: "Review", at: 1 })
    const closed = decode({ _tag: "AccountClosed", accountId: ID, at: 2 })
    runStep(steps, frozen, seen)
    runStep(steps, closed, seen)
    assert.deepStrictEqual(seen, [`frozen ${ID}`])
    assert.deepStrictEqual(readTypes(steps), ["AccountFrozen"])
  })

  it("derives each read model's subscription from its map", () => {
    const money = [
      "AccountOpened",
      "MoneyDeposited",
      "MoneyWithdrawn",
      "MoneyDebitedForTransfer",
      "MoneyCreditedForTransfer",
      "MoneyRefundedForTransfer"
    ]
    assert.sameMembers([...readTypes(dailySteps)], money)
    assert.sameMembers([...readTypes(transactionSteps)], money)
    assert.sameMembers([...readTypes(summarySteps)], Object.keys(Account.AccountEventVersions))
    const legacy = Account.upcasters.map((upcaster) => upcaster.type)
    // Every read model of accounts must also read the stored (legacy) account types it upcasts.
    for (const projection of ReadModels.all.filter((p) => p.categories?.includes(ACCOUNT_CATEGORY) === true)) {
      for (const type of legacy) assert.include(projection.eventTypes, type, `${projection.name} reads stored ${type}`)
    }
    assert.sameMembers([...subscribedTypes(dailySteps)], [...new Set([...money, ...legacy])])
  })
})
