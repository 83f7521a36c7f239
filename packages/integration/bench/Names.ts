/** Names the relay benchmark's phases share: the category it writes, the JetStream stream and subject prefix. */
export const CATEGORY = "parcel"
export const STREAM = "RELAY_BENCH"
export const PREFIX = "bench"
