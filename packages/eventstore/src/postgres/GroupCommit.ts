/**
 * Group commit of the appends of one process: appends that arrive while a group is being written queue up
 * and are written together in the next group, as ONE statement in one transaction (`GroupStatement`), each
 * with its own expectation, result and refusal. Leader/follower: an append that finds fewer than
 * `concurrency` groups in flight starts one at once (no added latency when alone; a group of one is the
 * single-append statement); the others wait for the group in flight to end and go in the next. Groups are
 * bounded (`maxBatch` writes, `maxEvents` events) and never hold two writes to one stream: the later one
 * waits for the next group (in arrival order), since one statement cannot update a row twice.
 *
 * A write whose stream's row another transaction holds is not waited for in the group (`GroupStatement`):
 * it goes alone, as a single append, so one held stream never stalls the others.
 *
 * Failures: a group that fails on an event id already stored (the unique violation aborts the whole
 * statement), or on a deadlock with another process's writers, is written again one append at a time, each
 * as a single append, so only the offender fails. Any other failure (the server went away) fails every
 * member with it: the group was one transaction, so none of it was written.
 */
import { Cause, Deferred, Effect, Exit } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { AppendResult } from "../Events.ts"
import type { WritePlan } from "../StoreRules.ts"
import type { Answer } from "./GroupStatement.ts"
import { constraintOf } from "./SqlErrors.ts"

export interface GroupCommitOptions {
  /** Most appends in one group (default 64). */
  readonly maxBatch?: number
  /** Most events in one group (default 2,000; a larger single append still goes, alone). */
  readonly maxEvents?: number
  /** Groups written at the same time, each on its own connection (default 1: the classic group commit). */
  readonly concurrency?: number
}

/** What one member's append answers: its result, or no match (`Rejected`, explained by the caller). */
export type Outcome<Rejected> = Exit.Exit<AppendResult, Rejected | SqlError>

interface Member<Rejected> {
  readonly write: WritePlan
  readonly done: Deferred.Deferred<AppendResult, Rejected | SqlError>
}

/** A group statement failure that one-by-one appends resolve: only the offending member then fails. */
const isMemberConflict = (error: SqlError): boolean => constraintOf(error) === "events_event_id_key" || error.reason._tag === "DeadlockError"

export const make = <Rejected>(options: {
  readonly config: GroupCommitOptions
  /** The single append (its own statement): a group of one, and the fallback of a failed group. */
  readonly single: (write: WritePlan) => Effect.Effect<AppendResult, Rejected | SqlError>
  /** The group statement: one answer per write (`GroupStatement`). */
  readonly group: (writes: ReadonlyArray<WritePlan>) => Effect.Effect<ReadonlyArray<Answer>, SqlError>
  /** The refusal of a write whose expectation did not hold. */
  readonly rejected: (write: WritePlan) => Rejected
}) => {
  const maxBatch = Math.max(1, Math.floor(options.config.maxBatch ?? 64))
  const maxEvents = Math.max(1, Math.floor(options.config.maxEvents ?? 2_000))
  const concurrency = Math.max(1, Math.floor(options.config.concurrency ?? 1))
  let queue: Array<Member<Rejected>> = []
  let inFlight = 0

  /** The next group, in arrival order: distinct streams, within the bounds. The rest stays queued. */
  const take = (): Array<Member<Rejected>> => {
    const batch: Array<Member<Rejected>> = []
    const rest: Array<Member<Rejected>> = []
    const streams = new Set<string>()
    let events = 0
    for (const member of queue) {
      const stream = member.write.stream.stream
      const count = member.write.events.length
      const fits = batch.length === 0 || (batch.length < maxBatch && events + count <= maxEvents && !streams.has(stream))
      if (fits) {
        batch.push(member)
        streams.add(stream)
        events += count
      } else {
        rest.push(member)
      }
    }
    queue = rest
    return batch
  }

  const alone = (member: Member<Rejected>) => Effect.flatMap(Effect.exit(options.single(member.write)), (exit) => Deferred.done(member.done, exit))

  const oneByOne = (batch: ReadonlyArray<Member<Rejected>>) => Effect.forEach(batch, alone, { concurrency: "unbounded", discard: true })

  const write = (batch: ReadonlyArray<Member<Rejected>>): Effect.Effect<void> => {
    if (batch.length === 1) return alone(batch[0]!)
    return Effect.flatMap(Effect.exit(options.group(batch.map((member) => member.write))), (exit) => {
      if (Exit.isSuccess(exit)) {
        return Effect.forEach(batch, (member, i) => {
          const answer = exit.value[i]!
          switch (answer._tag) {
            case "Appended":
              return Deferred.done(member.done, Exit.succeed(answer.result))
            case "NoMatch":
              return Deferred.done(member.done, Exit.fail(options.rejected(member.write)))
            case "Busy":
              // Waits for the row on its own fiber, so the groups behind this one are not held up.
              return Effect.asVoid(Effect.forkDetach(alone(member)))
          }
        }, { discard: true })
      }
      const failure = Cause.findErrorOption(exit.cause)
      if (failure._tag === "Some" && isMemberConflict(failure.value)) return oneByOne(batch)
      return Effect.forEach(batch, (member) => Deferred.failCause(member.done, exit.cause), { discard: true })
    })
  }

  /** Writes groups until nothing is queued; then this writer ends (the next append starts another). */
  const drain: Effect.Effect<void> = Effect.suspend(() => {
    const batch = take()
    if (batch.length === 0) {
      inFlight--
      return Effect.void
    }
    return Effect.andThen(
      // Members never wait forever: an interrupted writer ends their appends as interrupted.
      Effect.onInterrupt(write(batch), () =>
        Effect.andThen(
          Effect.sync(() => inFlight--),
          Effect.forEach(batch, (member) => Deferred.interrupt(member.done), { discard: true })
        )),
      // One turn of the scheduler first: the callers just answered run on and may append again, and then
      // go in the next group instead of a group of their own right after it.
      Effect.andThen(Effect.yieldNow, drain)
    )
  })

  /** Appends `write` in the next group (or at once, when fewer than `concurrency` groups are in flight). */
  const append = (write: WritePlan): Effect.Effect<AppendResult, Rejected | SqlError> =>
    Effect.suspend(() => {
      const done = Deferred.makeUnsafe<AppendResult, Rejected | SqlError>()
      queue.push({ write, done })
      if (inFlight >= concurrency) return Deferred.await(done)
      inFlight++
      // The writer is its own fiber: an interrupted caller must not take the group's other members with it.
      return Effect.andThen(Effect.forkDetach(drain, { startImmediately: true }), Deferred.await(done))
    })

  return { append }
}
