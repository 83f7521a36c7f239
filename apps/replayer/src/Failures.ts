/**
 * The replayer's outcomes that are not successes, each with its exit code, so scripts can tell them apart:
 * 1 = the operation ran and found a problem (verify differences) or failed; 2 = the command line was
 * wrong (unknown projection, bad flags). Interrupted runs exit 130 (Ctrl-C).
 */
import { Schema } from "effect"

export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

export class CheckFailed extends Schema.TaggedError<CheckFailed>()("CheckFailed", { message: Schema.String }) {}

export class OperationFailed extends Schema.TaggedError<OperationFailed>()("OperationFailed", { message: Schema.String }) {}

export type ReplayerFailure = UsageError | CheckFailed | OperationFailed

export const exitCode = (failure: ReplayerFailure): number => (failure._tag === "UsageError" ? 2 : 1)

export const isReplayerFailure = (error: unknown): error is ReplayerFailure =>
  error instanceof UsageError || error instanceof CheckFailed || error instanceof OperationFailed
