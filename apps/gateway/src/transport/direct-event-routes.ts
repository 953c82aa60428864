import 'reflect-metadata';
import { EXCEPTION_FILTERS_METADATA, GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA } from '@nestjs/common/constants.js';
import { PARAM_ARGS_METADATA, PATTERN_HANDLER_METADATA, PATTERN_METADATA, TRANSPORT_METADATA } from '@nestjs/microservices/constants.js';
import { PatternHandler } from '@nestjs/microservices/enums/pattern-handler.enum.js';
import { RpcParamtype } from '@nestjs/microservices/enums/rpc-paramtype.enum.js';
import { Transport } from '@nestjs/microservices';

/** Calls one @EventPattern method with a message's data; returns what the method returned. */
export type DirectEventRoute = (data: unknown) => unknown;

export interface DirectEventRoutes {
  /** Channel → the @EventPattern method, bound to its controller. */
  routes: Map<string, DirectEventRoute>;
  /** @EventPattern methods left on Nest's pipeline, with why (logged at startup). */
  keptOnNest: string[];
}

const ENHANCERS = [GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA, EXCEPTION_FILTERS_METADATA] as const;

interface ParamMetadata {
  index?: unknown;
  data?: unknown;
  pipes?: unknown[];
  schema?: unknown;
}

/**
 * The direct routes of a controller's @EventPattern methods, for `HeraldRedisServer`. The decorators stay the single
 * source of truth (they also make Nest subscribe the channels); a method takes the direct route only when Nest's
 * per-message pipeline would do nothing for it: no guards, interceptors, pipes or exception filters on the class or
 * the method, and exactly one parameter, a plain `@Payload()`. Anything else stays on Nest's road, so adding an
 * enhancer later cannot be silently bypassed. (Global enhancers registered as APP_* providers are not seen here;
 * the gateway has none, see docs/performance.md.)
 */
export function directEventRoutes(controller: object): DirectEventRoutes {
  const routes = new Map<string, DirectEventRoute>();
  const keptOnNest: string[] = [];
  const type = controller.constructor;
  const prototype: unknown = Object.getPrototypeOf(controller);
  if (typeof prototype !== 'object' || prototype === null) return { routes, keptOnNest };

  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (name === 'constructor') continue;
    const method: unknown = Reflect.get(prototype, name);
    if (typeof method !== 'function') continue;
    if (Reflect.getMetadata(PATTERN_HANDLER_METADATA, method) !== PatternHandler.EVENT) continue;
    const patterns: unknown = Reflect.getMetadata(PATTERN_METADATA, method);
    const transport: unknown = Reflect.getMetadata(TRANSPORT_METADATA, method);
    if (transport !== undefined && transport !== Transport.REDIS) continue;

    const why = whyNotDirect(type, method, name, patterns);
    if (why !== undefined) {
      keptOnNest.push(`${type.name}.${name}: ${why}`);
      continue;
    }
    const route: DirectEventRoute = (method as (data: unknown) => unknown).bind(controller);
    for (const pattern of patterns as string[]) routes.set(pattern, route);
  }
  return { routes, keptOnNest };
}

function whyNotDirect(type: Function, method: Function, name: string, patterns: unknown): string | undefined {
  if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((pattern) => typeof pattern === 'string')) {
    return 'patterns that are not plain channel names';
  }
  for (const key of ENHANCERS) {
    const onClass: unknown = Reflect.getMetadata(key, type);
    const onMethod: unknown = Reflect.getMetadata(key, method);
    if ((Array.isArray(onClass) && onClass.length > 0) || (Array.isArray(onMethod) && onMethod.length > 0)) return `has ${key} enhancers`;
  }
  const params = Object.entries((Reflect.getMetadata(PARAM_ARGS_METADATA, type, name) ?? {}) as Record<string, ParamMetadata>);
  const [only] = params;
  if (params.length !== 1 || only === undefined) return 'needs exactly one parameter, @Payload()';
  const [key, param] = only;
  if (key !== `${RpcParamtype.PAYLOAD}:0` || param.data !== undefined || (param.pipes?.length ?? 0) > 0 || param.schema !== undefined) {
    return 'its parameter is not a plain @Payload()';
  }
  return undefined;
}
