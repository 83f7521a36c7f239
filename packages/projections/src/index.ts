export * as Projection from "./Projection.ts"
export * as Projections from "./Projections.ts"
export * as Verify from "./Verify.ts"
