/**
 * Which fields of which event types hold personal data, read from Schema annotations.
 *
 * The annotation is the shared kernel's (`@verity/kernel` `PersonalData`, key `PersonalDataAnnotation`), the
 * one the domain annotates its events with; the store still knows no domain. A field annotated
 * `{ personalData: { subjectField, placeholder } }` holds personal data of the data subject whose
 * id is the value of the sibling field `subjectField` in the same event; once that subject is forgotten the
 * field reads as `placeholder` (a value that passes the field's own schema).
 */
import { PersonalData } from "@verity/kernel"
import { SchemaAST } from "effect"
import type { Schema } from "effect"

/** The annotation key (the kernel's `PersonalDataAnnotation`). */
export const ANNOTATION = PersonalData.PersonalDataAnnotation

export interface PersonalField {
  readonly field: string
  readonly subjectField: string
  readonly placeholder: unknown
}

/** Personal fields per event type (`_tag`). Types without personal data are absent. */
export type PersonalFieldMap = ReadonlyMap<string, ReadonlyArray<PersonalField>>

const annotationOf = (ast: SchemaAST.AST): PersonalField | undefined => {
  const value = SchemaAST.resolve(ast)?.[ANNOTATION]
  if (typeof value !== "object" || value === null) return undefined
  const { placeholder, subjectField } = value as { readonly subjectField?: unknown; readonly placeholder?: unknown }
  if (typeof subjectField !== "string" || placeholder === undefined) {
    throw new Error(`a "${ANNOTATION}" annotation needs { subjectField: string, placeholder }`)
  }
  return { field: "", subjectField, placeholder }
}

const tagOf = (ast: SchemaAST.Objects): string | undefined => {
  const tag = ast.propertySignatures.find((p) => p.name === "_tag")
  return tag !== undefined && SchemaAST.isLiteral(tag.type) && typeof tag.type.literal === "string"
    ? tag.type.literal
    : undefined
}

const collect = (ast: SchemaAST.AST, into: Map<string, ReadonlyArray<PersonalField>>): void => {
  if (SchemaAST.isUnion(ast)) {
    for (const member of ast.types) collect(member, into)
    return
  }
  if (SchemaAST.isSuspend(ast)) return collect(ast.thunk(), into)
  if (!SchemaAST.isObjects(ast)) return
  const tag = tagOf(ast)
  if (tag === undefined) return
  const fields: Array<PersonalField> = []
  for (const property of ast.propertySignatures) {
    const annotation = annotationOf(property.type)
    if (annotation === undefined || typeof property.name !== "string") continue
    if (!ast.propertySignatures.some((p) => p.name === annotation.subjectField)) {
      throw new Error(`${tag}.${property.name}: subject field "${annotation.subjectField}" does not exist`)
    }
    fields.push({ ...annotation, field: property.name })
  }
  if (fields.length > 0) into.set(tag, fields)
}

/** Reads the personal-data annotations of one or more event unions (e.g. every aggregate's events). */
export const fromSchemas = (...schemas: ReadonlyArray<Schema.Top>): PersonalFieldMap => {
  const map = new Map<string, ReadonlyArray<PersonalField>>()
  for (const schema of schemas) collect(SchemaAST.toType(schema.ast), map)
  return map
}
