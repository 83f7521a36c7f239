/**
 * Test support: the shop's runtime on a brand-new database of a test target (quick polling so waits stay
 * short), commands that must be accepted, and read-your-writes waits on the projections.
 */
import { type Checkpoint, EventStore } from "@verity/eventstore"
import { TestDatabase, type TestTarget } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Clock, Effect, Layer, Option } from "effect"
import type { CartCommand } from "../../src/Cart.ts"
import * as Runtime from "../../src/Runtime.ts"
import { Carts } from "../../src/Streams.ts"
import { CartId, Timestamp } from "../../src/Values.ts"

/** The runtime (event store + both projections) on a fresh database of `target`. */
export const shopLayer = (target: TestTarget, options: Runtime.RuntimeOptions = {}) =>
  Runtime.layerWithoutDatabase({ pollInterval: "50 millis", discoveryInterval: "200 millis", owner: "test", ...options }).pipe(
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 12 }))
  )

export const newCartId = () => CartId.make(crypto.randomUUID())

export const now = Effect.map(Clock.currentTimeMillis, (millis) => Timestamp.make(millis))

/** Sends a cart command that must write; the checkpoint of its append. */
export const exec = (command: CartCommand) =>
  Carts.handle(command.cartId, command).pipe(
    Effect.flatMap((handled) =>
      Option.match(handled.appended, {
        onNone: () => Effect.die(new Error(`${command._tag} on ${command.cartId} decided nothing`)),
        onSome: (appended) => Effect.succeed(appended.checkpoint)
      })
    ),
    Effect.orDie
  )

/**
 * Waits until `projection` has applied everything up to `checkpoint` (default: the store's horizon, what
 * readers can see now; an append whose transaction is still open is not behind it yet).
 */
export const waitFor = (projection: string, checkpoint?: Checkpoint.Checkpoint) =>
  Effect.gen(function*() {
    const target = checkpoint ?? (yield* (yield* EventStore).horizon).checkpoint
    yield* (yield* Projections.Projections).waitFor(projection, target, "30 seconds")
  }).pipe(Effect.orDie)
