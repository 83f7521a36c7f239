/**
 * The shapes of schema evolution the domain's upcaster chains are written in: the shared kernel's
 * (`@verity/kernel`), re-exported so the domain's public `Upcaster` namespace stays where it was. The
 * kernel also holds the one chain algorithm (`chain`) that the event store runs on read.
 */
import { Upcaster as Kernel } from "@verity/kernel"

export type StoredPayload = Kernel.StoredPayload
export type UpcastContext = Kernel.UpcastContext
export type Upcaster = Kernel.Upcaster
export type Chain = Kernel.Chain
export type ChainOptions = Kernel.ChainOptions
export type UpcastFailure = Kernel.UpcastFailure

export const { chain, key, MAX_UPCAST_STEPS, upcaster, UpcastError } = Kernel
export type UpcastError = Kernel.UpcastError
