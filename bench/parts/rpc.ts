/**
 * Calls between the benchmark and its helper processes over Node's IPC channel: the parent calls a named function in
 * the child and awaits its answer; the child may also send events (the measured window starting and ending).
 */
import type { ChildProcess } from 'node:child_process';

type Handler = (arg: never) => unknown;

interface Call {
  id: number;
  call: string;
  arg: unknown;
}
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
interface Event {
  event: string;
  data: unknown;
}

/** In the child: answers calls with these handlers until the parent disconnects. */
export function serve(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('this helper runs as a child process with an IPC channel (started by a benchmark)');
  process.on('message', (message: Call) => {
    const handler = handlers[message.call];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no such call: ${message.call}`);
        return handler(message.arg as never);
      })
      .then(
        (value) => process.send!({ id: message.id, ok: true, value } satisfies Reply),
        (err: unknown) => process.send!({ id: message.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies Reply),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** In the child: tells the parent that something happened. */
export function emit(event: string, data: unknown = null): void {
  process.send?.({ event, data } satisfies Event);
}

export interface Remote {
  call<T>(name: string, arg?: unknown): Promise<T>;
  on(event: string, listener: (data: unknown) => void): void;
}

/** In the parent: the child's functions. A call fails if the child exits before answering. */
export function remote(child: ChildProcess): Remote {
  let next = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, ((data: unknown) => void)[]>();
  child.on('message', (message: Reply | Event) => {
    if ('event' in message) {
      for (const listener of listeners.get(message.event) ?? []) listener(message.data);
      return;
    }
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new Error(message.error));
  });
  child.once('exit', (code, signal) => {
    for (const pending of waiting.values()) pending.reject(new Error(`helper process exited (${signal ?? code}) before answering`));
    waiting.clear();
  });
  return {
    call<T>(name: string, arg?: unknown) {
      return new Promise<T>((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, call: name, arg } satisfies Call);
      });
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
  };
}
