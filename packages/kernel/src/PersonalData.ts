/**
 * The personal-data annotation. A schema annotated with `personalData(subjectField, placeholder)` holds
 * personal data of the data subject whose id is the value of the sibling field `subjectField` of the same
 * struct (e.g. an event's `accountId`). Erasure replaces the value with `placeholder`, which must itself
 * be a valid value of the annotated schema. The domain annotates its event fields with it; the event store
 * finds them by the same key (`PersonalDataAnnotation`) to encrypt and erase them.
 */
import { type Schema, SchemaAST } from "effect"

/** The annotation key, read by the packages that erase or encrypt personal data. */
export const PersonalDataAnnotation = "personalData"

/** The annotation's value. */
export interface PersonalData {
  /** Name of the sibling field holding the data subject's id. */
  readonly subjectField: string
  /** Value written in place of the data after erasure; it passes the annotated field's schema. */
  readonly placeholder: string
}

/** Annotation object to pass to `.annotate(...)`: `{ personalData: { subjectField, placeholder } }`. */
export const personalData = (
  subjectField: string,
  placeholder: string
): { readonly [PersonalDataAnnotation]: PersonalData } => ({
  [PersonalDataAnnotation]: { subjectField, placeholder }
})

/** A personal-data field found in a struct schema. */
export interface PersonalDataField extends PersonalData {
  readonly field: string
}

/** Reads the annotation of one schema, if any. */
export const getPersonalData = (schema: Schema.Top): PersonalData | undefined => SchemaAST.resolveAt<PersonalData>(PersonalDataAnnotation)(schema.ast)

/** Lists the annotated top-level fields of a struct schema (e.g. one event type). */
export const personalDataFields = (schema: Schema.Top): ReadonlyArray<PersonalDataField> => {
  const ast = schema.ast
  if (!SchemaAST.isObjects(ast)) return []
  const found: Array<PersonalDataField> = []
  for (const property of ast.propertySignatures) {
    const annotation = SchemaAST.resolveAt<PersonalData>(PersonalDataAnnotation)(property.type)
    if (annotation !== undefined) found.push({ field: String(property.name), ...annotation })
  }
  return found
}
