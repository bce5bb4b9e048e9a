/** Records to standard output, buffered; flushed once per drained batch. */

export interface Sink {
  write(text: string): void;
  flush(): void | Promise<unknown>;
  close(): Promise<void>;
}

export function stdoutSink(): Sink {
  const writer = Bun.stdout.writer();
  return {
    write(text: string): void {
      writer.write(text);
    },
    flush(): void | Promise<unknown> {
      const r = writer.flush();
      return typeof r === "number" ? undefined : r;
    },
    async close(): Promise<void> {
      await writer.flush();
      await writer.end();
    },
  };
}
