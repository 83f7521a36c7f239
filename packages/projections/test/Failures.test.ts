/**
 * How the runner reads a failure: an outage marked retryable and a conflict with a concurrent writer are
 * transient (the batch runs again); a handler's `ProjectionFailure` is not (its stream gets parked).
 */
import { assert, describe, it } from "@effect/vitest"
import { StoreUnavailable } from "@verity/eventstore"
import { Cause } from "effect"
import { isTransient } from "../src/Failures.ts"
import { ProjectionConflict, ProjectionFailure, ProjectionUnavailable } from "../src/Projection.ts"

describe("Failures.isTransient", () => {
  it("retries conflicts and retryable outages, parks the rest", () => {
    assert.isTrue(isTransient(Cause.fail(new ProjectionConflict({ message: "stream written concurrently" }))))
    assert.isTrue(isTransient(Cause.fail(new ProjectionUnavailable({ message: "broker down" }))))
    assert.isTrue(isTransient(Cause.fail(new StoreUnavailable({ operation: "append", reason: "Connection", retryable: true, detail: "" }))))
    assert.isFalse(isTransient(Cause.fail(new StoreUnavailable({ operation: "append", reason: "Unexpected", retryable: false, detail: "" }))))
    assert.isFalse(isTransient(Cause.fail(new ProjectionFailure({ message: "undecodable" }))))
  })
})
