// A FIFO of buffers for stream parsers: bytes are copied only when a frame is complete, so
// parsing 1 MiB frames that arrive in 64 KiB pieces costs one copy, not sixteen.
export class ByteQueue {
  private parts: Buffer[] = [];
  private len = 0;

  get length(): number {
    return this.len;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.len += b.length;
  }

  /** The first n bytes (n ≤ length), without consuming them. */
  peek(n: number): Buffer {
    if (n > this.len) throw new RangeError(`peek(${n}) beyond ${this.len} bytes`);
    if (this.parts[0]!.length >= n) return this.parts[0]!.subarray(0, n);
    const all = Buffer.concat(this.parts);
    this.parts = [all];
    return all.subarray(0, n);
  }

  /** Consumes and returns the first n bytes. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Consumes the first n bytes as the buffers they arrived in (sliced, never copied). */
  takeList(n: number): Buffer[] {
    if (n > this.len) throw new RangeError(`takeList(${n}) beyond ${this.len} bytes`);
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const head = this.parts[0]!;
      if (head.length <= left) {
        out.push(head);
        this.parts.shift();
        left -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.parts[0] = head.subarray(left);
        left = 0;
      }
    }
    this.len -= n;
    return out;
  }

  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const head = this.parts[0]!;
      if (head.length <= left) {
        this.parts.shift();
        left -= head.length;
      } else {
        this.parts[0] = head.subarray(left);
        left = 0;
      }
    }
    this.len -= n;
  }
}
