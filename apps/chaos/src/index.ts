/** The chaos run as a library (the test suite runs a bounded one): see Chaos.ts. */
export * as Chaos from "./Chaos.ts"
export * as Faults from "./Faults.ts"
export * as Report from "./Report.ts"
