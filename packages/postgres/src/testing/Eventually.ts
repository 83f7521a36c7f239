/**
 * Waiting in tests on a condition, never on the clock: `eventually` runs a probe again and again (every
 * `interval`, default 10 ms) until its result is what the test waits for, and returns that result. A wait
 * is always bounded (`timeout`, default 30 s): when it expires the test dies naming what it waited for.
 * The probe's own failures end the wait at once, in its error channel.
 */
import { Duration, Effect } from "effect"

export interface EventuallyOptions {
  /** How long to wait before giving up (default 30 seconds). */
  readonly timeout?: Duration.Input
  /** Pause between two probes (default 10 milliseconds). */
  readonly interval?: Duration.Input
}

const isOptions = (value: unknown): value is EventuallyOptions | undefined => value === undefined || typeof value === "object"

/** Waits until `check` yields true. */
export function eventually<E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  options?: EventuallyOptions
): Effect.Effect<void, E, R>
/** Waits until `done` holds for the result of `probe`, and returns that result (narrowed by the guard). */
export function eventually<A, B extends A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => value is B,
  options?: EventuallyOptions
): Effect.Effect<B, E, R>
/** Waits until `done` holds for the result of `probe`, and returns that result. */
export function eventually<A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options?: EventuallyOptions
): Effect.Effect<A, E, R>
export function eventually<A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  doneOrOptions?: ((value: A) => boolean) | EventuallyOptions,
  maybeOptions?: EventuallyOptions
): Effect.Effect<A | void, E, R> {
  const done = isOptions(doneOrOptions) ? (value: A) => value === true : doneOrOptions
  const options = isOptions(doneOrOptions) ? doneOrOptions : maybeOptions
  const timeout = options?.timeout ?? "30 seconds"
  const interval = options?.interval ?? "10 millis"
  return Effect.gen(function*() {
    while (true) {
      const value = yield* probe
      if (done(value)) return value
      yield* Effect.sleep(interval)
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))} waiting for ${what}`))
    })
  )
}
