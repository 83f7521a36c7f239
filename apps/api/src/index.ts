/**
 * @verity/api: the HTTP API of the Verity ledger. The contract (`VerityApi`, shareable with clients that
 * derive typed clients from it) and the server's layers, for embedding the API in another process or
 * building tests on it. The executable entry point is main.ts.
 */
export { VerityApi } from "./Api.ts"
export { ApiConfig, type ApiSettings } from "./ApiConfig.ts"
export * as Auth from "./Auth.ts"
export * as Problems from "./Problems.ts"
export * as Runtime from "./Runtime.ts"
export * as Server from "./Server.ts"
