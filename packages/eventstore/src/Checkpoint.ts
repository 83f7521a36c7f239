/**
 * Checkpoints: where a reader of the global order resumes. A checkpoint is the pair (transaction id,
 * position) of the last event read, because that pair is the commit-safe order (see `GlobalOrder` in the
 * README): a position alone can let a reader skip an event whose transaction committed late. The pair is
 * rendered as an opaque string so it can travel through HTTP, files and read-model tables unchanged.
 *
 * `(tx, MAX)` means "everything written by transactions up to and including tx has been seen": it is what a
 * reader records after scanning to the visibility horizon without finding (more) events.
 */
import { type Brand, type Order, Result, Schema } from "effect"
import { InvalidCheckpoint } from "./Errors.ts"

export type Checkpoint = string & Brand.Brand<"Checkpoint">

export interface Parts {
  readonly transactionId: bigint
  readonly position: bigint
}

const MAX_INT8 = 9223372036854775807n
const PATTERN = /^(\d{1,20})\.(\d{1,19})$/

export const make = (transactionId: bigint, position: bigint): Checkpoint => `${transactionId}.${position}` as Checkpoint

/** Before the first event. */
export const start: Checkpoint = make(0n, 0n)

/** Everything of transactions up to and including `transactionId`. */
export const afterTransaction = (transactionId: bigint): Checkpoint => make(transactionId, MAX_INT8)

export const decode = (checkpoint: string): Result.Result<Parts, InvalidCheckpoint> => {
  const match = PATTERN.exec(checkpoint)
  if (match === null) return Result.fail(new InvalidCheckpoint({ checkpoint }))
  const transactionId = BigInt(match[1]!)
  const position = BigInt(match[2]!)
  if (transactionId > 18446744073709551615n || position > MAX_INT8) {
    return Result.fail(new InvalidCheckpoint({ checkpoint }))
  }
  return Result.succeed({ transactionId, position })
}

export const parse = (checkpoint: string): Result.Result<Checkpoint, InvalidCheckpoint> =>
  Result.map(decode(checkpoint), (parts) => make(parts.transactionId, parts.position))

/** Trusted decode of a checkpoint this module produced. */
export const parts = (checkpoint: Checkpoint): Parts => {
  const [tx, pos] = checkpoint.split(".")
  return { transactionId: BigInt(tx!), position: BigInt(pos!) }
}

const compareBigint = (a: bigint, b: bigint): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0)

export const Order_: Order.Order<Checkpoint> = (a, b) => {
  const x = parts(a)
  const y = parts(b)
  return x.transactionId === y.transactionId
    ? compareBigint(x.position, y.position)
    : compareBigint(x.transactionId, y.transactionId)
}
export { Order_ as Order }

export const max = (a: Checkpoint, b: Checkpoint): Checkpoint => (Order_(a, b) >= 0 ? a : b)

/** True when a reader at `checkpoint` has seen the event at `target`. */
export const hasReached = (checkpoint: Checkpoint, target: Checkpoint): boolean => Order_(checkpoint, target) >= 0

/** A Schema for checkpoints at API boundaries: validates the shape. */
export const CheckpointSchema = Schema.String.pipe(Schema.check(Schema.isPattern(PATTERN)), Schema.brand("Checkpoint"))
