/** Raw pixels as the back end sends them: base64 of rows of gray or RGB(A) bytes. */
export interface RawPixels {
  width: number;
  height: number;
  channels: number;
  pixels: string;
}

/** Draw raw pixels onto a canvas at their own size (the page scales the canvas). */
export function drawRawPixels(canvas: HTMLCanvasElement, image: RawPixels): void {
  const { width, height, channels, pixels } = image;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const bytes = Uint8Array.from(atob(pixels), (ch) => ch.charCodeAt(0));
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const o = i * channels;
    const r = bytes[o] ?? 0;
    img.data[i * 4] = r;
    img.data[i * 4 + 1] = channels >= 3 ? (bytes[o + 1] ?? 0) : r;
    img.data[i * 4 + 2] = channels >= 3 ? (bytes[o + 2] ?? 0) : r;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
