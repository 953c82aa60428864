/**
 * The HS256 secret `npm start` gives its gateways when no JWT_SECRET / JWT_PUBLIC_KEY is set, and `npm run token`
 * signs with by default. Public by design: a gateway with it accepts anyone's tokens, so only a local cluster uses it.
 */
export const DEVELOPMENT_JWT_SECRET = 'herald-development-secret-change-me';

/** The gateway's development token endpoint (DEV_TOKEN_ENDPOINT=true, only with DEVELOPMENT_JWT_SECRET). */
export const DEV_TOKEN_PATH = '/dev/token';
/** Longest lifetime it signs, and the default. */
export const DEV_TOKEN_MAX_TTL_SECONDS = 24 * 3600;
export const DEV_TOKEN_DEFAULT_TTL_SECONDS = 3600;
