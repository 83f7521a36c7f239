/**
 * Given/when/then for Deciders: `spec.given(events).when(command).then(events)`, `.thenNothing()` or
 * `.thenRejects("InsufficientFunds", { balance: 0 })`. Each assertion fails the test with the actual
 * decision; `then` returns the state after the new events for follow-up checks.
 */
import { assert } from "@effect/vitest"
import { Result } from "effect"
import { type Decider, fold } from "../../src/Decider.ts"

export const specFor = <Command, Event, State, Rejection extends { readonly _tag: string }>(
  decider: Decider<Command, Event, State, Rejection>
) => ({
  given: (events: ReadonlyArray<Event>) => ({
    when: (command: Command) => {
      const state = fold(decider, events)
      const decision = decider.decide(command, state)
      const accepted = (): ReadonlyArray<Event> => {
        if (Result.isFailure(decision)) {
          assert.fail(`expected events, got rejection ${JSON.stringify(decision.failure)}`)
        }
        return decision.success
      }
      return {
        // given/when/then reads as the scenario; nothing awaits this object.
        // oxlint-disable-next-line unicorn/no-thenable
        then: (expected: ReadonlyArray<Event>): State => {
          const events = accepted()
          assert.deepStrictEqual(events, expected)
          return fold(decider, events, state)
        },
        thenNothing: (): void => {
          assert.deepStrictEqual(accepted(), [])
        },
        thenRejects: <Tag extends Rejection["_tag"]>(
          tag: Tag,
          facts: Partial<Omit<Extract<Rejection, { readonly _tag: Tag }>, "_tag">> = {}
        ): Extract<Rejection, { readonly _tag: Tag }> => {
          if (Result.isSuccess(decision)) {
            assert.fail(`expected rejection ${tag}, got events ${JSON.stringify(decision.success)}`)
          }
          const rejection = decision.failure
          assert.strictEqual(rejection._tag, tag)
          assert.isTrue(rejection instanceof Error, "rejections are TaggedError instances")
          for (const [key, value] of Object.entries(facts)) {
            assert.deepStrictEqual((rejection as unknown as Record<string, unknown>)[key], value, `rejection fact ${key}`)
          }
          return rejection as unknown as Extract<Rejection, { readonly _tag: Tag }>
        }
      }
    }
  })
})
