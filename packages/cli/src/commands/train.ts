/** `wavenet train`: the training configuration's options, a backend, and the run's summary on stdout. */
import { Console, Effect } from 'effect'
import { backendOption, command, jsonOption, onBackend } from '../command.js'
import { lossPlot } from '../plot.js'
import { currentTerminal } from '../terminal.js'
import { train } from '../train.js'
import { TrainConfig } from '../train-config.js'

export const trainCommand = command({
  name: 'train',
  summary: 'train a model on words or running text (or a built-in data set) and save a checkpoint',
  options: { ...TrainConfig.fields, backend: backendOption, json: jsonOption },
  examples: [
    'wavenet train --mode sequence --eval-every 1000 --stop-at-val 2.00',
    'wavenet train --resume model.safetensors --steps 400000',
    'wavenet train --dataset sotu --levels 9 --residual --skip --steps 3000 --out speeches.safetensors',
  ],
  // The training options go on as given, so that on --resume only those given are checked against the checkpoint.
  run: ({ value, given }) => onBackend(value.backend, Effect.gen(function* () {
    const summary = yield* train(given)
    if (value.json) {
      const { history: _history, model: _model, vocab: _vocab, ...fields } = summary
      return yield* Console.log(JSON.stringify(fields))
    }
    const terminal = yield* currentTerminal
    const plot = lossPlot(summary.history, terminal.columns, terminal.stdoutColor)
    if (plot.length > 0) yield* Console.log(`${plot.join('\n')}\n`)
    yield* Console.log(`steps ${summary.steps}   parameters ${summary.parameters}   receptive field ${summary.receptiveField}   backend ${summary.backend}`)
    const bits = summary.valBitsPerChar === undefined ? '' : `   val ${summary.valBitsPerChar.toFixed(4)} bits/char   (train loss over a fixed sample of 100,000+ training characters)`
    yield* Console.log(`train loss ${summary.trainLoss.toFixed(4)}   val loss ${summary.valLoss.toFixed(4)}${bits}`)
    yield* Console.log(`${summary.msPerStep.toFixed(3)} ms/step   ${summary.trainSeconds.toFixed(1)} s training   checkpoint ${summary.checkpoint}\n`)
    if (summary.valBitsPerChar !== undefined) return yield* Console.log(`sample:\n${summary.samples.join('')}`)
    yield* Console.log('samples:')
    for (const word of summary.samples) yield* Console.log(`  ${word}`)
  })),
})
