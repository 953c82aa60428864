import { SignJWT } from 'jose';

/** The HS256 secret every test gateway is started with. */
export const TEST_JWT_SECRET = 'herald-test-secret-0123456789abcdef';

export interface TokenOptions {
  sub?: string;
  /** Seconds from now; negative for an already expired token. */
  expiresIn?: number;
  secret?: string;
  issuer?: string;
  audience?: string;
}

export async function signToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.sub !== undefined) jwt = jwt.setSubject(options.sub);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A token for `sub` that HS256 would accept, re-encoded with `alg: none` and no signature. */
export function unsignedToken(sub: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}
