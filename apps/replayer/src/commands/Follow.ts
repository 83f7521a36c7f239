/**
 * `replayer follow`: run the projections (read models and the transfer process) live until interrupted,
 * or until the database cannot be recovered (exit 1, for a supervisor to start the worker again).
 */
import { Projections } from "@verity/projections"
import { Console, Effect, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import * as Runtime from "../Runtime.ts"
import { render } from "./Status.ts"

export const follow = Command.make(
  "follow",
  { every: Flag.Int("status-every").pipe(Flag.withDescription("Seconds between status prints (0: never)"), Flag.withDefault(30)) },
  ({ every }) =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      yield* Console.error("following: projections run until interrupted (Ctrl-C)")
      if (every > 0) {
        yield* projections.status.pipe(
          Effect.flatMap((s) => Console.error(render(s))),
          Effect.ignore,
          Effect.repeat(Schedule.spaced(`${every} seconds`)),
          Effect.forkChild
        )
      }
      return yield* Effect.never
    }).pipe(Runtime.provide({ run: true }))
).pipe(Command.withDescription("Run the projections live (a worker process), printing their status"))
