import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { CHANNELS, type Result } from '../../shared/contract.ts';
import type { Services } from '../services/services.ts';

/**
 * The only place that touches ipcMain. Every contract channel gets one handler that first checks
 * the sender (the app's own window, its top frame, on the app's own page) and then hands the raw
 * argument to the services, which parse it with the channel's zod schema.
 */
export function registerIpc(
  services: Services,
  isTrusted: (contents: WebContents, frameUrl: string) => boolean,
): () => void {
  for (const channel of CHANNELS) {
    ipcMain.handle(
      channel,
      async (event: IpcMainInvokeEvent, raw: unknown): Promise<Result<unknown>> => {
        const frame = event.senderFrame;
        if (!frame || frame !== event.sender.mainFrame || !isTrusted(event.sender, frame.url)) {
          return {
            ok: false,
            error: {
              code: 'unauthorized',
              message: 'Refused: the request did not come from the app window.',
            },
          };
        }
        return services.invoke(channel, raw);
      },
    );
  }
  return () => {
    for (const channel of CHANNELS) ipcMain.removeHandler(channel);
  };
}
