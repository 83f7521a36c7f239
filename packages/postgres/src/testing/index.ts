export * as TestDatabase from "./TestDatabases.ts"
export { databases, forEachDatabase } from "./TestDatabases.ts"
export type { TestTarget } from "./Targets.ts"
export { fullDump } from "./Dump.ts"
