/** `wavenet inspect`: what a checkpoint holds, without running it. */
import { BOUNDARY_DISPLAY, layerParameters, type Model, outputShape, parameterCount, receptiveField, size } from '@wavenet/core'
import { Console, Effect } from 'effect'
import { loadCheckpoint } from '../checkpoints.js'
import { command, jsonOption } from '../command.js'
import { file, required } from '../options.js'

/**
 * The layer table of a model: each top-level layer's name, kind, output
 * shape and parameter count. Shapes follow from the layers' own shape rules
 * for a batch of one, shown as B (no layer kind changes the batch axis).
 */
const layerTable = (model: Model) => {
  let shape: readonly number[] = [1, receptiveField(model)]
  return model.net.layers.map((layer, i) => {
    shape = outputShape(layer, shape)
    const parameters = Object.values(layerParameters(layer)).reduce((n, t) => n + size(t.shape), 0)
    return { name: model.net.names[i]!, kind: layer.kind, output: ['B', ...shape.slice(1)].join('×'), parameters }
  })
}

export const inspectCommand = command({
  name: 'inspect',
  summary: 'describe a checkpoint: layers, sizes, vocabulary, step and recorded losses',
  options: { model: required(file, 'checkpoint to describe'), json: jsonOption },
  examples: [
    'wavenet inspect --model model.safetensors',
    'wavenet inspect --model model.safetensors --json',
  ],
  run: ({ value: o }) => Effect.gen(function* () {
    const checkpoint = yield* loadCheckpoint(o.model)
    const config = checkpoint.model.config
    const layers = layerTable(checkpoint.model)
    const summary = {
      parameters: parameterCount(checkpoint.model),
      receptiveField: receptiveField(checkpoint.model),
      // The recipe, when a constructor built the model; null for a network composed by hand.
      arch: config?.kind ?? null,
      levels: config === undefined ? null : config.kind === 'wavenet' ? config.levels : 1,
      // The flat model fuses its whole context in one level.
      groupSize: config === undefined ? null : config.kind === 'wavenet' ? config.groupSize : config.context,
      residual: config?.kind === 'wavenet' ? config.residual === true : null,
      skip: config?.kind === 'wavenet' ? config.skip === true : null,
      // The probability of dropping after each level's tanh in training; 0 without dropout.
      dropout: config?.kind === 'wavenet' ? config.dropout ?? 0 : null,
      vocab: checkpoint.vocab.symbols.map((s) => (s === '' ? BOUNDARY_DISPLAY : s)).join(''),
      step: checkpoint.step,
      layers,
      history: checkpoint.history,
      mode: checkpoint.mode ?? 'example',
      format: checkpoint.mode === 'text' ? 'text' : 'words',
      // Target characters of a training window, on running text.
      window: checkpoint.training?.window ?? null,
      optimizer: checkpoint.optimizer?.config.kind ?? null,
      schedule: checkpoint.optimizer === undefined ? null : checkpoint.optimizer.config.shape ?? 'step',
    }
    if (o.json) return yield* Console.log(JSON.stringify(summary))
    yield* Console.log(`${'layer'.padEnd(16)}${'kind'.padEnd(11)}${'output'.padEnd(14)}parameters`)
    for (const l of summary.layers) yield* Console.log(`${l.name.padEnd(16)}${l.kind.padEnd(11)}${l.output.padEnd(14)}${l.parameters}`)
    yield* Console.log('')
    const recipe = config === undefined ? 'composed by hand'
      : `${summary.arch}   levels ${summary.levels}   group size ${summary.groupSize}${summary.residual === true ? '   residual' : ''}${summary.skip === true ? '   skip' : ''}${summary.dropout ? `   dropout ${summary.dropout}` : ''}`
    yield* Console.log(`parameters ${summary.parameters}   ${recipe}   receptive field ${summary.receptiveField}`)
    yield* Console.log(`vocabulary (${checkpoint.vocab.symbols.length}) ${summary.vocab}`)
    yield* Console.log(`format ${summary.format}${summary.window === null ? '' : `   window ${summary.window}`}`)
    yield* Console.log(`step ${summary.step}   mode ${summary.mode}   optimizer ${summary.optimizer ?? 'none'}${summary.schedule === null ? '' : `   schedule ${summary.schedule}`}`)
    const lastTrain = checkpoint.history.train[checkpoint.history.train.length - 1]
    const lastVal = checkpoint.history.val[checkpoint.history.val.length - 1]
    if (lastTrain !== undefined) yield* Console.log(`last train loss ${lastTrain[1].toFixed(4)} (step ${lastTrain[0]})`)
    if (lastVal !== undefined) yield* Console.log(`last val loss ${lastVal[1].toFixed(4)} (step ${lastVal[0]})`)
  }),
})
