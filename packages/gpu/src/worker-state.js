/**
 * The state word the main thread and the webgpu worker share (`control[0]`):
 * the main thread sets BUSY, posts a request and sleeps while the word is
 * BUSY; the worker sets DONE after answering, or EXITED if its thread ends.
 */
export const BUSY = 0
export const DONE = 1
export const EXITED = 2
