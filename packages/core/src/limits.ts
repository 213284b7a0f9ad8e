/**
 * Model-size limits: the sizes beyond which a description (from a checkpoint
 * or from the command line) is refused before anything is allocated. One set
 * of numbers for the checkpoint decoder, the layers' description parsers and
 * the CLI's up-front checks.
 */

/** Most scalars a model may hold, parameters and running statistics together: 2^28 (1 GiB of float32). */
export const MAX_PARAMETERS = 2 ** 28

/** Most characters of context a model may see. */
export const MAX_RECEPTIVE_FIELD = 2 ** 20

/** Most layers one Sequential may hold. */
export const MAX_LAYERS = 4096

/** Deepest nesting of a network description's JSON (a Sequential inside a Sequential adds two levels). */
export const MAX_DESCRIPTION_DEPTH = 64
