import { Logger } from '@nestjs/common';
import { HeraldPublisher } from '@herald/publisher';
import { SignJWT } from 'jose';
import { CliUsageError, USAGE, parseCli, type CliCommand } from './cli-args.js';

async function run(command: CliCommand): Promise<void> {
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'token': {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(command.userId)
        .setIssuedAt(now)
        .setExpirationTime(now + command.ttlSeconds)
        .sign(new TextEncoder().encode(command.secret));
      process.stdout.write(`${token}\n`);
      return;
    }
    case 'notify':
    case 'presence':
    case 'status': {
      const publisher = new HeraldPublisher({ redisUrl: command.redisUrl });
      await publisher.connect();
      try {
        if (command.kind === 'presence') {
          process.stdout.write(`${JSON.stringify(await publisher.presence(command.userId))}\n`);
          return;
        }
        if (command.kind === 'status') {
          process.stdout.write(`${JSON.stringify(await publisher.status(command.userId, command.id))}\n`);
          return;
        }
        const base = { type: command.type, data: command.data, id: command.id };
        const { target } = command;
        const id =
          'userId' in target
            ? await publisher.notifyUser({ ...base, userId: target.userId })
            : 'userIds' in target
              ? await publisher.notifyUsers({ ...base, userIds: target.userIds })
              : await publisher.broadcast(base);
        process.stdout.write(`published ${id}\n`);
      } finally {
        await publisher.close();
      }
    }
  }
}

// Nest's client logs its connection chatter; a CLI prints only its result.
Logger.overrideLogger(['error']);

try {
  await run(parseCli(process.argv.slice(2), process.env));
} catch (error) {
  process.stderr.write(`${error instanceof CliUsageError ? `${error.message}\n\n${USAGE}` : String(error)}\n`);
  process.exit(error instanceof CliUsageError ? 2 : 1);
}
