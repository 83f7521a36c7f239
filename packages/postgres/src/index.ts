export * as Database from "./Database.ts"
export * from "./DatabaseHealth.ts"
export * as EmbeddedPostgres from "./EmbeddedPostgres.ts"
