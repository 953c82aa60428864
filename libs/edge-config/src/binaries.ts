import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// nginx is installed in /usr/sbin, which a non-root user's PATH often lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of an executable on PATH (or in the sbin folders), or undefined. */
export function findBinary(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter).filter((entry) => entry.length > 0), ...EXTRA_DIRS]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
