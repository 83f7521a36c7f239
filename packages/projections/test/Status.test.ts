/**
 * The projection's state from its generations' status and its parked streams, without a database: which
 * runner counts (a building generation unless its switch was refused), and the order in which stopped,
 * stalled, parked, live and catching up take precedence.
 */
import { assert, describe, it } from "@effect/vitest"
import { Checkpoint } from "@verity/eventstore"
import { type GenerationStatus, STALE_HEARTBEAT_SECONDS, stateOf } from "../src/Status.ts"

const generation = (overrides: Partial<GenerationStatus> = {}): GenerationStatus => ({
  generation: 1,
  version: 1,
  checkpoint: Checkpoint.start,
  position: "0",
  eventsApplied: "0",
  lagEvents: 10,
  lagCapped: false,
  lagSeconds: 0,
  owner: "host:1",
  heartbeatAgeSeconds: 1,
  runnerState: "catching_up",
  lastError: null,
  refusal: null,
  heldBackBy: null,
  ...overrides
})

describe("stateOf", () => {
  it("is not_started without generations", () => {
    assert.strictEqual(stateOf({ active: undefined, building: undefined }, 0), "not_started")
  })

  it("is stopped without a heartbeat, or with one older than the limit", () => {
    assert.strictEqual(stateOf({ active: generation({ heartbeatAgeSeconds: null }), building: undefined }, 0), "stopped")
    assert.strictEqual(
      stateOf({ active: generation({ heartbeatAgeSeconds: STALE_HEARTBEAT_SECONDS + 1 }), building: undefined }, 0),
      "stopped"
    )
    assert.strictEqual(
      stateOf({ active: generation({ heartbeatAgeSeconds: STALE_HEARTBEAT_SECONDS }), building: undefined }, 0),
      "catching_up"
    )
  })

  it("puts stalled before parked, parked before live", () => {
    assert.strictEqual(stateOf({ active: generation({ runnerState: "stalled" }), building: undefined }, 2), "stalled")
    assert.strictEqual(stateOf({ active: generation({ runnerState: "live", lagEvents: 0 }), building: undefined }, 2), "parked")
  })

  it("is live when caught up or following live, catching_up otherwise", () => {
    assert.strictEqual(stateOf({ active: generation({ lagEvents: 0 }), building: undefined }, 0), "live")
    assert.strictEqual(stateOf({ active: generation({ runnerState: "live", lagEvents: 3 }), building: undefined }, 0), "live")
    assert.strictEqual(stateOf({ active: generation(), building: undefined }, 0), "catching_up")
  })

  it("follows a building generation's runner while a rebuild is under way", () => {
    const active = generation({ runnerState: "live", lagEvents: 0 })
    assert.strictEqual(stateOf({ active, building: generation({ generation: 2 }) }, 0), "catching_up")
    assert.strictEqual(stateOf({ active, building: generation({ generation: 2, heartbeatAgeSeconds: null }) }, 0), "stopped")
    assert.strictEqual(stateOf({ active: undefined, building: generation({ generation: 1, lagEvents: 0 }) }, 0), "live")
  })

  it("ignores a building generation whose switch was refused", () => {
    const refused = generation({ generation: 2, runnerState: "stalled", refusal: { checkpoint: "c", tables: [] } })
    assert.strictEqual(stateOf({ active: generation({ lagEvents: 0 }), building: refused }, 0), "live")
    assert.strictEqual(stateOf({ active: undefined, building: refused }, 0), "not_started")
  })
})
