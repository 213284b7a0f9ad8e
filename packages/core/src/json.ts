/** Checks shared by the decoders of untrusted JSON (safetensors headers, checkpoint metadata). */

/** A JSON object: not null, not an array. */
export const isJsonObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * How deeply a JSON value nests (a number or string is 1, `[]` or `{}` is 1,
 * `[[1]]` is 3), counted without recursion so that a hostile document cannot
 * exhaust the stack.
 */
export const jsonDepth = (value: unknown): number => {
  let deepest = 0
  const pending: [unknown, number][] = [[value, 1]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [v, depth] = next
    deepest = Math.max(deepest, depth)
    if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) pending.push([child, depth + 1])
  }
  return deepest
}

/** Whether two JSON values are equal: the same structure and values, whatever the order of object keys. */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]))
  }
  return a === b
}
