/** Checks shared by the decoders of untrusted JSON (safetensors headers, checkpoint metadata). */

/** A JSON object: not null, not an array. */
export const isJsonObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
