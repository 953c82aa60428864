import { BadRequestException, Body, Controller, HttpCode, Post } from '@nestjs/common';
import { DEV_TOKEN_DEFAULT_TTL_SECONDS, DEV_TOKEN_MAX_TTL_SECONDS, DEV_TOKEN_PATH, DEVELOPMENT_JWT_SECRET } from '@herald/contracts';
import { SignJWT } from 'jose';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { z } from 'zod';
import { AppConfig } from '../config/app-config.js';

const DevTokenRequestSchema = z.strictObject({
  user: z.string().min(1).max(200),
  ttlSeconds: z.number().int().min(60).max(DEV_TOKEN_MAX_TTL_SECONDS).default(DEV_TOKEN_DEFAULT_TTL_SECONDS),
});

export interface DevTokenReply {
  token: string;
  user: string;
  /** Epoch seconds. */
  exp: number;
}

/**
 * POST /dev/token {user, ttlSeconds?} -> a token for that user, signed with the development secret: the demo page's
 * "sign in" under `npm start`. Registered only with DEV_TOKEN_ENDPOINT=true, which the config accepts only together
 * with the development secret. Same-origin use only: no CORS headers, and a JSON body needs a preflight cross-origin.
 */
@Controller()
export class DevTokenController {
  private readonly key: Uint8Array;

  constructor(
    config: AppConfig,
    @InjectPinoLogger(DevTokenController.name) private readonly logger: PinoLogger,
  ) {
    // Checked again here: this class must never sign with a real key, whatever wires it.
    if (config.jwt.key?.kind !== 'secret' || config.jwt.key.secret !== DEVELOPMENT_JWT_SECRET) {
      throw new Error('the development token endpoint runs only with the development secret');
    }
    this.key = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
  }

  @Post(DEV_TOKEN_PATH)
  @HttpCode(200)
  async issue(@Body() body: unknown): Promise<DevTokenReply> {
    const parsed = DevTokenRequestSchema.safeParse(body);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
      this.logger.warn({ reason }, 'development token request refused');
      throw new BadRequestException(reason);
    }
    const { user, ttlSeconds } = parsed.data;
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime(exp).sign(this.key);
    this.logger.info({ user, exp }, 'development token issued');
    return { token, user, exp };
  }
}
