/**
 * What the desktop shell lets its window do, as plain functions so they are tested without
 * Electron (main.ts applies them).
 */

/**
 * The https links the app itself shows, opened in the system browser when clicked. Nothing else
 * is ever handed to the operating system: not other sites, not file: or custom schemes (a page
 * that could open those could start programs). electron/main/policy.test.ts checks this list
 * against the links in renderer/src.
 */
export const EXTERNAL_LINKS: readonly string[] = [];

export function externalLinkAllowed(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' && EXTERNAL_LINKS.includes(parsed.href);
}

/**
 * Requests the window may make: the app's own files, and the data:/blob: URLs it creates itself
 * (chart PNGs, CSV downloads). DevTools' own pages only where DevTools exist (not packaged).
 */
export function requestAllowed(url: string, appUrlPrefix: string, packaged: boolean): boolean {
  if (url.startsWith(appUrlPrefix)) return true;
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  return !packaged && url.startsWith('devtools://');
}
