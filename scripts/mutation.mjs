/**
 * `pnpm mutation`: StrykerJS over packages/core/src (stryker.config.json),
 * printing the score of each file. Its sandboxes live in .stryker-tmp, two
 * folders below the repository: tests that read `../../../../shared/data`
 * find it there through a link to the repository's own `../shared`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
mkdirSync(`${root}.stryker-tmp`, { recursive: true })
if (!existsSync(`${root}.stryker-tmp/shared`) && existsSync(`${root}../shared`)) symlinkSync('../../shared', `${root}.stryker-tmp/shared`)
const result = spawnSync('stryker', ['run', 'stryker.config.json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
process.exit(result.status ?? 1)
