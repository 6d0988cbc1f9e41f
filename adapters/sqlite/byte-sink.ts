/** A growing byte buffer, written in UTF-8 piece by piece and reused from chunk to chunk. */
export class ByteSink {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private length = 0;

  /** Forgets what was written (the buffer is kept for the next text). */
  reset(): void {
    this.length = 0;
  }

  /** Appends `text` in UTF-8, growing the buffer (at least doubling it) when it could not fit. */
  write(text: string): void {
    const room = this.length + text.length * 3;
    if (room > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(room, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length);
  }

  /** The bytes written since the last reset (a view, valid until the next write). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
