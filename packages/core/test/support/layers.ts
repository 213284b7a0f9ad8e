/** Test helpers over layers: float64 copies and byte snapshots for purity checks. */
import { layerBuffers, layerParameters, toFloat32, toFloat64, withTensors, type Layer, type Named } from '../../src/index.js'

const mapNamed = (named: Named, f: (t: Named[string]) => Named[string]): Named =>
  Object.fromEntries(Object.entries(named).map(([k, t]) => [k, f(t)]))

/** The same layer with every parameter and buffer in float64. */
export const toFloat64Layer = <L extends Layer>(layer: L): L =>
  withTensors(layer, { ...mapNamed(layerParameters(layer), toFloat64), ...mapNamed(layerBuffers(layer), toFloat64) })

/** The same layer with every parameter and buffer in float32. */
export const toFloat32Layer = <L extends Layer>(layer: L): L =>
  withTensors(layer, { ...mapNamed(layerParameters(layer), toFloat32), ...mapNamed(layerBuffers(layer), toFloat32) })

/** A deep snapshot of the bytes of every typed array reachable from a value. */
export const snapshot = (value: unknown): unknown => {
  if (ArrayBuffer.isView(value)) return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
  if (Array.isArray(value)) return value.map(snapshot)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, snapshot(v)]))
  }
  return value
}
