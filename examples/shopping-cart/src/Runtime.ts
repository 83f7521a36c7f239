/**
 * The shop's runtime as one layer: the PostgreSQL event store and the projection runtime running the cart
 * overview and the checkout process, on a `PgClient` given from outside (`layerWithoutDatabase`, for tests)
 * or on the database from configuration (`layer`: `DATABASE_URL`, else an embedded PostgreSQL).
 */
import { PgEventStore } from "@verity/eventstore"
import { Database } from "@verity/postgres"
import { Projections } from "@verity/projections"
import { Layer } from "effect"
import * as CheckoutProcess from "./CheckoutProcess.ts"
import * as CartOverview from "./overview/Projection.ts"

/** Every projection of the shop: one read model, one process manager. */
export const projections = [CartOverview.projection, CheckoutProcess.projection]

export type RuntimeOptions = Omit<Projections.ProjectionsOptions, "projections">

/** Event store + projections on a `PgClient` provided from outside. */
export const layerWithoutDatabase = (options: RuntimeOptions = {}) =>
  Projections.layer({ ...options, projections }).pipe(Layer.provideMerge(PgEventStore.layer()))

/** Everything, on the configured (or embedded) database. */
export const layer = (options: RuntimeOptions = {}) =>
  layerWithoutDatabase(options).pipe(
    Layer.provideMerge(Database.layer({ maxConnections: 10, applicationName: "shopping-cart" }))
  )
