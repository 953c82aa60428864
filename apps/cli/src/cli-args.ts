import { parseArgs } from 'node:util';

export const USAGE = `herald CLI

  npm run notify -- --user 42 [--type hello] [--data '{"text":"hi"}'] [--id ID]
  npm run notify -- --users 42,43 --data '"hi"'
  npm run notify -- --broadcast --data '{"text":"maintenance at 02:00"}'
  npm run presence -- --user 42
  npm run status -- --user 42 --id ID
  npm run token -- --user 42 [--ttl 3600]

Options:
  --redis URL     Redis the gateways listen on (default: $REDIS_URL or redis://127.0.0.1:6379)
  --secret S      HS256 secret for 'token' (default: $JWT_SECRET or the development secret of npm start)
`;

export const DEVELOPMENT_SECRET = 'herald-development-secret-change-me';

export type CliCommand =
  | { kind: 'notify'; target: { userId: string } | { userIds: string[] } | { broadcast: true }; type?: string; data: unknown; id?: string; redisUrl: string }
  | { kind: 'presence'; userId: string; redisUrl: string }
  | { kind: 'status'; userId: string; id: string; redisUrl: string }
  | { kind: 'token'; userId: string; ttlSeconds: number; secret: string }
  | { kind: 'help' };

export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** Parses argv (after the node and script paths) and the two variables the CLI honours. */
const OPTIONS = {
  user: { type: 'string' },
  users: { type: 'string' },
  broadcast: { type: 'boolean' },
  type: { type: 'string' },
  data: { type: 'string' },
  id: { type: 'string' },
  redis: { type: 'string' },
  secret: { type: 'string' },
  ttl: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseArgv(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // parseArgs throws TypeErrors for unknown options and missing values: still a usage problem.
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
}

export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const { values, positionals } = parseArgv(argv);
  const command = positionals[0] ?? 'notify';
  if (values.help) return { kind: 'help' };
  const redisUrl = values.redis ?? env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

  switch (command) {
    case 'notify': {
      const targets = [values.user !== undefined, values.users !== undefined, values.broadcast === true].filter(Boolean).length;
      if (targets !== 1) throw new CliUsageError('give exactly one of --user, --users, --broadcast');
      const target =
        values.user !== undefined
          ? { userId: values.user }
          : values.users !== undefined
            ? {
                userIds: values.users
                  .split(',')
                  .map((id) => id.trim())
                  .filter(Boolean),
              }
            : { broadcast: true as const };
      return { kind: 'notify', target, type: values.type, data: parseData(values.data), id: values.id, redisUrl };
    }
    case 'presence':
      if (!values.user) throw new CliUsageError('presence needs --user');
      return { kind: 'presence', userId: values.user, redisUrl };
    case 'status':
      if (!values.user || !values.id) throw new CliUsageError('status needs --user and --id');
      return { kind: 'status', userId: values.user, id: values.id, redisUrl };
    case 'token': {
      if (!values.user) throw new CliUsageError('token needs --user');
      const ttlSeconds = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new CliUsageError('--ttl must be a positive whole number of seconds');
      return { kind: 'token', userId: values.user, ttlSeconds, secret: values.secret ?? env['JWT_SECRET'] ?? DEVELOPMENT_SECRET };
    }
    default:
      throw new CliUsageError(`unknown command ${command}`);
  }
}

function parseData(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliUsageError(`--data must be JSON, got ${text}`);
  }
}
