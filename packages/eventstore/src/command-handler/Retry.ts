/**
 * The command handler's retry policy and defaults: how conflicts and an unavailable store are retried,
 * which append failures are one command's own (the batch is then re-run one command at a time), and the
 * append that retries a database failure with the SAME events (same ids, so a commit that did happen is
 * recognised by the store and nothing is applied twice).
 */
import { Effect, Schedule } from "effect"
import type { WrongExpectedVersion } from "../Errors.ts"
import type { EventMetadata, NewEvent } from "../Events.ts"
import type { EventStore } from "../EventStore.ts"

export type Store = EventStore["Service"]

export const conflictRetry = Schedule.exponential("5 millis", 2).pipe(Schedule.jittered)
export const unavailableRetry = Schedule.exponential("50 millis", 2).pipe(Schedule.jittered)

export const DEFAULT_ATTEMPTS = 10
export const DEFAULT_BATCH = 100
export const DEFAULT_CACHE = 10_000

/** Append failures that may come from one command's events: the batch is re-run one command at a time. */
export const commandSpecific: ReadonlySet<string> = new Set(["InvalidEvent", "SubjectForgotten", "DuplicateEventId"])

export const isConflict = (error: unknown): error is WrongExpectedVersion =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "WrongExpectedVersion"

/** Appends at `expected` (0: a new stream), retrying a retryable `StoreUnavailable` with the same events. */
export const appendRetrying = (
  store: Store,
  stream: string,
  expected: number,
  events: ReadonlyArray<NewEvent>,
  options?: { readonly metadata: EventMetadata }
) =>
  store.append(stream, expected === 0 ? "no_stream" : expected, events, options).pipe(
    Effect.retry({ schedule: unavailableRetry, times: 4, while: (error) => error._tag === "StoreUnavailable" && error.retryable })
  )
