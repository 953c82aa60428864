import type { ChildProcess } from 'node:child_process';

/** Request/response over a fork() IPC channel; M maps a method name to its params and result. */
export type MethodMap = Record<string, { params: unknown; result: unknown }>;

interface RpcCall {
  rpc: 'call';
  id: number;
  method: string;
  params: unknown;
}

type RpcReply = { rpc: 'reply'; id: number; ok: true; result: unknown } | { rpc: 'reply'; id: number; ok: false; error: string };

const isRpc = <T extends { rpc: string }>(message: unknown, kind: T['rpc']): message is T =>
  typeof message === 'object' && message !== null && (message as { rpc?: unknown }).rpc === kind;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RpcClient<M extends MethodMap> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (message: unknown) => {
      if (!isRpc<RpcReply>(message, 'reply')) return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${this.name}: ${message.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) during call ${id}`));
      }
      this.pending.clear();
    });
  }

  call<K extends keyof M & string>(method: K, params: M[K]['params'], timeoutMs = 60_000): Promise<M[K]['result']> {
    const id = this.nextId++;
    return new Promise<M[K]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ rpc: 'call', id, method, params } satisfies RpcCall, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name}: cannot send ${method}: ${error.message}`));
      });
    });
  }
}

export type RpcHandlers<M extends MethodMap> = { [K in keyof M]: (params: M[K]['params']) => Promise<M[K]['result']> | M[K]['result'] };

/** The child side: answers calls from the parent; exits when the parent goes away. */
export function serveRpc<M extends MethodMap>(handlers: RpcHandlers<M>): void {
  if (typeof process.send !== 'function') throw new Error('serveRpc: this process was not started with an IPC channel (fork)');
  process.on('message', (message: unknown) => {
    if (!isRpc<RpcCall>(message, 'call')) return;
    const handler = (handlers as Record<string, ((params: unknown) => unknown) | undefined>)[message.method];
    const reply = (body: RpcReply): void => {
      if (process.connected) process.send?.(body);
    };
    if (!handler) {
      reply({ rpc: 'reply', id: message.id, ok: false, error: `unknown method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params))
      .then(
        (result) => reply({ rpc: 'reply', id: message.id, ok: true, result }),
        (error: unknown) => reply({ rpc: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  // An orphaned worker must not hold thousands of sockets open.
  process.on('disconnect', () => process.exit(0));
}
