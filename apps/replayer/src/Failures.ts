/**
 * The replayer's outcomes that are not successes, each with its exit code, so scripts can tell them apart:
 * 1 = the operation ran and found a problem (verify differences) or failed; 2 = the command line was
 * wrong (unknown projection, bad flags). Interrupted runs exit 130 (Ctrl-C).
 */
import { Data } from "effect"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}

export class OperationFailed extends Data.TaggedError("OperationFailed")<{ readonly message: string }> {}

export type ReplayerFailure = UsageError | CheckFailed | OperationFailed

export const exitCode = (failure: ReplayerFailure): number => (failure._tag === "UsageError" ? 2 : 1)

export const isReplayerFailure = (error: unknown): error is ReplayerFailure =>
  error instanceof UsageError || error instanceof CheckFailed || error instanceof OperationFailed
