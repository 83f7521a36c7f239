import { MemoryEventStore } from "../src/index.ts"
import { eventStoreContract } from "./contract/EventStoreContract.ts"

eventStoreContract("in-memory event store", MemoryEventStore.layer())
