export * as Contract from "./Contract.ts"
