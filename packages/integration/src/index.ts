export * as Contract from "./Contract.ts"
export * as JetStreamSink from "./JetStreamSink.ts"
export * as Relay from "./Relay.ts"
export * as Sink from "./Sink.ts"
