/**
 * Handlers of the projections group: a thin mapping of the `Projections` service to HTTP (unknown
 * projection or a stream that is not parked: 404; database away: 503).
 */
import { EventStore } from "@verity/eventstore"
import { Projections } from "@verity/projections"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { Principal } from "../Auth.ts"
import * as Commands from "../Commands.ts"
import * as Problems from "../Problems.ts"

const failure = <A, R>(
  effect: Effect.Effect<
    A,
    | Projections.UnknownProjection
    | Projections.StreamNotParked
    | Projections.NotReplayable
    | Projections.ProjectionsError
    | Projections.StoreUnavailable,
    R
  >
) =>
  Effect.catch(effect, (error): Effect.Effect<never, Problems.NotFound | Problems.NotReplayable | Problems.ServiceUnavailable> => {
    switch (error._tag) {
      case "NotReplayable":
        return Effect.fail(
          new Problems.NotReplayable({ projection: error.name, detail: "this projection issues commands: it cannot be rebuilt from history" })
        )
      case "UnknownProjection":
        return Effect.fail(Problems.notFound("projection", error.name))
      case "StreamNotParked":
        return Effect.fail(Problems.notFound("parked stream", error.stream))
      case "StoreUnavailable":
        return Commands.unavailable(error)
      case "ProjectionsError":
        return Effect.die(error)
    }
  })

const generation = ({ refusal, ...g }: Projections.GenerationStatus) => ({
  ...g,
  checkpoint: String(g.checkpoint),
  ...(refusal === null ? {} : { refusal })
})

export const ProjectionsHttp = HttpApiBuilder.group(
  VerityApi,
  "projections",
  Effect.fn(function*(handlers) {
    const projections = yield* Projections.Projections
    const withStore = Effect.provideService(EventStore, yield* EventStore)
    return handlers.handleAll({
      status: () =>
        projections.status.pipe(
          Effect.map((all) =>
            all.map((s) => ({
              name: s.name,
              ...(s.description === undefined ? {} : { description: s.description }),
              version: s.version,
              state: s.state,
              ...(s.active === undefined ? {} : { active: generation(s.active) }),
              ...(s.building === undefined ? {} : { building: generation(s.building) }),
              parkedStreams: s.parkedStreams
            }))
          ),
          failure
        ),
      rebuild: ({ params, query }) =>
        projections.rebuild(params.name, { skipVerify: query.skipVerify === "true" }).pipe(
          Effect.map(({ generation }) => ({ name: params.name, generation })),
          failure
        ),
      parked: ({ params }) =>
        projections.parked(params.name).pipe(
          Effect.map((streams) => streams.map((s) => ({ ...s, parkedAt: s.parkedAt.toISOString() }))),
          failure
        ),
      retry: ({ params }) =>
        projections.retry(params.name, params.stream).pipe(
          withStore,
          Effect.map((o) => ({ resumed: o.resumed, applied: o.applied, skipped: o.skipped, ...(o.error === undefined ? {} : { error: o.error }) })),
          failure
        ),
      skip: ({ params }) =>
        Effect.flatMap(Principal, (principal) => projections.skip(params.name, params.stream, principal.name)).pipe(
          withStore,
          Effect.map((o) => ({ resumed: o.resumed, applied: o.applied, skipped: o.skipped, ...(o.error === undefined ? {} : { error: o.error }) })),
          failure
        )
    })
  })
)
