/**
 * The one module of the renderer that talks to the back end. In the Electron shell it calls the
 * preload's named functions (`window.deepal`); in browser mode it calls the loopback host over
 * fetch and listens on its WebSocket. Either way the same typed contract from shared/contract.ts.
 */
import {
  API_PREFIX,
  CAPABILITIES,
  EVENTS_PATH,
  TOKEN_HEADER,
  type AppEvent,
  type ArgsOf,
  type Channel,
  type Result,
  type ResultOf,
} from '../../shared/contract.ts';

const TOKEN_KEY = 'deepal-token';

/** Read the token from the launch URL's fragment once, keep it for this tab, and hide it. */
function browserToken(): string | null {
  const match = /(?:^#|&)token=([0-9a-f]+)/.exec(window.location.hash);
  if (match?.[1]) {
    sessionStorage.setItem(TOKEN_KEY, match[1]);
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export type BridgeMode = 'electron' | 'browser';

const electronApi = window.deepal;
const token = electronApi ? null : browserToken();

export const bridgeMode: BridgeMode = electronApi ? 'electron' : 'browser';

const channelToCapability = new Map<Channel, keyof typeof CAPABILITIES>(
  (Object.entries(CAPABILITIES) as [keyof typeof CAPABILITIES, Channel][]).map(([k, c]) => [c, k]),
);

/** Call one channel. Resolves to a Result; a transport failure is a `failed` result, never a throw. */
export async function call<C extends Channel>(
  channel: C,
  args: ArgsOf<C>,
): Promise<Result<ResultOf<C>>> {
  try {
    if (electronApi) {
      const name = channelToCapability.get(channel);
      if (!name)
        return {
          ok: false,
          error: { code: 'unknown-channel', message: `No capability for ${channel}` },
        };
      const fn = electronApi[name] as (a: unknown) => Promise<Result<ResultOf<C>>>;
      return await fn(args);
    }
    if (!token) {
      return {
        ok: false,
        error: {
          code: 'unauthorized',
          message:
            'This page was opened without its access token. Open the address `npm start` printed.',
        },
      };
    }
    const res = await fetch(`${API_PREFIX}${channel}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
      body: JSON.stringify(args ?? {}),
    });
    return (await res.json()) as Result<ResultOf<C>>;
  } catch (err) {
    return {
      ok: false,
      error: {
        code: 'failed',
        message: `The app's back end could not be reached (${err instanceof Error ? err.message : String(err)}). Is it still running?`,
      },
    };
  }
}

/** Call and unwrap: throws a BridgeError on `{ ok: false }`, for code that shows errors itself. */
export async function request<C extends Channel>(
  channel: C,
  args: ArgsOf<C>,
): Promise<ResultOf<C>> {
  const r = await call(channel, args);
  if (!r.ok) throw new BridgeError(r.error.code, r.error.message);
  return r.value;
}

export class BridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

/**
 * Subscribe to back-end events. In browser mode one WebSocket is shared and reconnected with
 * backoff; `onState` reports its state so the UI can say when it is offline.
 */
export function subscribe(
  listener: (e: AppEvent) => void,
  onState: (s: ConnectionState) => void = () => {},
): () => void {
  if (electronApi) {
    onState('open');
    return electronApi.onEvent(listener);
  }
  let ws: WebSocket | null = null;
  let stopped = false;
  let delay = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = () => {
    if (stopped || !token) {
      onState('closed');
      return;
    }
    onState('connecting');
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${window.location.host}${EVENTS_PATH}`, [
      'deepal',
      `token.${token}`,
    ]);
    ws.onopen = () => {
      delay = 500;
      onState('open');
    };
    ws.onmessage = (m) => {
      try {
        const data = JSON.parse(String(m.data)) as AppEvent | { kind: 'hello' };
        if (data.kind !== 'hello') listener(data);
      } catch {
        // Not ours; ignore.
      }
    };
    ws.onclose = () => {
      ws = null;
      if (stopped) return;
      onState('closed');
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    ws?.close();
  };
}
