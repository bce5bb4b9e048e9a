/**
 * The BPF object as the rest of the agent sees it: open from memory, configure, load,
 * attach, then read maps and drain the ring buffer. Implemented on libbpf + the shim.
 */
import { ptr, type Pointer } from "bun:ffi";
import { BpfError } from "./errors.ts";
import type { Libbpf } from "./libbpf.ts";
import type { Shim } from "./shim.ts";

const LOG_TAIL = 64 * 1024;

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

/** A ring buffer opened through the shim; drain() fills buf with framed records. */
export interface RingHandle {
  /**
   * Moves pending records into buf; returns [bytes used, records, stopped full, lost,
   * bytes in the ring before].
   */
  drain(buf: Uint8Array): Readonly<BigUint64Array>;
  /** Bytes in the ring not consumed yet (0 where that cannot be seen). */
  fill(): number;
  close(): void;
}

/** A program that failed to load, and why, in one line. */
export interface LoadFailure {
  readonly program: string;
  readonly reason: string;
}

/** Lines of a verifier log that are its trace, not its verdict. */
const TRACE_LINE =
  /^(\d+: |; |processed \d+ insns|verification time|stack depth|func#|last_idx|regs=|parent |mark_precise|from \d+ to \d+|Validating |Func#|\(\w+\) |\s*$)/;

/**
 * The first program libbpf's log names as failing to load, and the reason: the
 * verifier's verdict (the last line of its log that is not the instruction trace), else
 * libbpf's own words (a hook the kernel lacks, a relocation it could not resolve).
 */
export function loadFailure(log: string): LoadFailure | undefined {
  const lines = log.split("\n").map((l) => l.replace(/^libbpf: /, ""));
  const at = lines.findIndex((l) => /^prog '[^']+': (BPF program load failed|failed to (load|prepare load attributes|find))/.test(l));
  if (at < 0) return undefined;
  const program = /^prog '([^']+)'/.exec(lines[at]!)![1]!;
  const begin = lines.findIndex((l, i) => i > at && l.endsWith("-- BEGIN PROG LOAD LOG --"));
  const end = begin < 0 ? -1 : lines.findIndex((l, i) => i > begin && l.endsWith("-- END PROG LOAD LOG --"));
  const verdict = end < 0 ? undefined : lines.slice(begin + 1, end).findLast((l) => !TRACE_LINE.test(l));
  // libbpf's line before the generic "failed to load", e.g. a missing attach target
  const own = lines
    .slice(0, at + 1)
    .findLast((l) => l.startsWith(`prog '${program}': `) && !/: failed to (load|prepare load attributes): -\d+$/.test(l));
  return { program, reason: (verdict ?? own?.slice(program.length + 9) ?? lines[at]!).trim() };
}

export class BpfObject {
  private obj: Pointer | null;
  private links: Pointer[] = [];
  private readonly keep: Uint8Array;

  private constructor(
    private readonly lib: Libbpf,
    private readonly shim: Shim,
    obj: Pointer,
    bytes: Uint8Array,
  ) {
    this.obj = obj;
    this.keep = bytes; // libbpf reads the ELF image until load
  }

  /** Opens an object from its ELF bytes. */
  static open(lib: Libbpf, shim: Shim, bytes: Uint8Array): BpfObject {
    const out = new BigUint64Array(1);
    const err = shim.kf_open_mem(ptr(bytes), bytes.length, ptr(out));
    if (err < 0) throw new BpfError("opening the BPF object", -err, BpfObject.logReason(shim));
    return new BpfObject(lib, shim, Number(out[0]) as Pointer, bytes);
  }

  /**
   * The line libbpf logged that explains a failure, if any: a program's load failure or
   * a missing kernel feature, rather than the generic "failed to load object" after it.
   */
  static logReason(shim: Shim): string | undefined {
    const lines = BpfObject.log(shim)
      .split("\n")
      .filter((l) => l.startsWith("libbpf: "))
      .map((l) => l.replace(/^libbpf: /, "").trim());
    const best =
      lines.find((l) => /BPF program load failed|failed to resolve CO-RE|Kconfig/.test(l)) ??
      lines.findLast((l) => /fail|error|invalid|unknown|not supported/i.test(l) && !/failed to load( object|: -\d+$)/.test(l));
    return best ?? lines.at(-1);
  }

  /** The text libbpf has logged so far (its tail). */
  static log(shim: Shim): string {
    const buf = new Uint8Array(LOG_TAIL);
    const len = new Uint32Array(1);
    shim.kf_log_read(ptr(buf), buf.length, ptr(len));
    return new TextDecoder().decode(buf.subarray(0, len[0]));
  }

  private handle(): Pointer {
    if (!this.obj) throw new BpfError("using a closed BPF object", 9);
    return this.obj;
  }

  private map(name: string): Pointer {
    const m = this.lib.bpf_object__find_map_by_name(this.handle(), ptr(cstr(name)));
    if (!m) throw new BpfError(`finding map ${name}`, 2);
    return m as Pointer;
  }

  private program(name: string): Pointer {
    const p = this.lib.bpf_object__find_program_by_name(this.handle(), ptr(cstr(name)));
    if (!p) throw new BpfError(`finding program ${name}`, 2);
    return p as Pointer;
  }

  setAutoload(program: string, on: boolean): void {
    const err = this.lib.bpf_program__set_autoload(this.program(program), on);
    if (err < 0) throw new BpfError(`setting autoload of ${program}`, -err);
  }

  /**
   * Test only: makes the kernel's verifier reject a program, by declaring it a raw tracepoint
   * filter, whose context is plain numbers: every pointer it follows is refused.
   */
  spoil(program: string): void {
    const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
    const err = this.lib.bpf_program__set_type(this.program(program), BPF_PROG_TYPE_RAW_TRACEPOINT);
    if (err < 0) throw new BpfError(`spoiling ${program}`, -err);
  }

  setMaxEntries(map: string, entries: number): void {
    const err = this.lib.bpf_map__set_max_entries(this.map(map), entries);
    if (err < 0) throw new BpfError(`sizing map ${map}`, -err);
  }

  /** Replaces the whole .rodata image; its size must match the object's exactly. */
  setReadOnlyData(data: Uint8Array): void {
    const m = this.map(".rodata");
    const size = new BigUint64Array(1);
    this.lib.bpf_map__initial_value(m, ptr(size));
    if (Number(size[0]) !== data.length) {
      throw new BpfError(`setting .rodata (object has ${size[0]} bytes, agent ${data.length})`, 22);
    }
    const err = this.lib.bpf_map__set_initial_value(m, ptr(data), data.length);
    if (err < 0) throw new BpfError("setting .rodata", -err);
  }

  load(): void {
    const err = this.lib.bpf_object__load(this.handle());
    if (err < 0) throw new BpfError("loading the BPF programs", -err, BpfObject.logReason(this.shim));
  }

  /**
   * Attaches the named programs, by their sections or, given cgroupFd, to that cgroup;
   * on any failure none of them stays attached.
   */
  attach(names: readonly string[], cgroupFd?: number): void {
    const out = new BigUint64Array(1);
    const links: Pointer[] = [];
    for (const name of names) {
      const prog = this.program(name);
      const err = cgroupFd === undefined ? this.shim.kf_attach(prog, ptr(out)) : this.shim.kf_attach_cgroup(prog, cgroupFd, ptr(out));
      if (err < 0) {
        for (const link of links) this.lib.bpf_link__destroy(link);
        throw new BpfError(`attaching ${name}`, -err, BpfObject.logReason(this.shim));
      }
      links.push(Number(out[0]) as Pointer);
    }
    this.links.push(...links);
  }

  /** The descriptor of loaded program name (its fdinfo has the kernel's counters). */
  programFd(name: string): number {
    const fd = this.lib.bpf_program__fd(this.program(name));
    if (fd < 0) throw new BpfError(`finding the descriptor of program ${name}`, -fd);
    return fd;
  }

  /** Runs the iterator program name once, to its end. */
  runIterator(name: string): void {
    const err = this.shim.kf_iter_run(this.program(name));
    if (err < 0) throw new BpfError(`running iterator ${name}`, -err, BpfObject.logReason(this.shim));
  }

  /** Writes value at key of an array or hash map. */
  updateMap(name: string, key: Uint8Array, value: Uint8Array): void {
    const err = this.lib.bpf_map_update_elem(this.mapFd(name), ptr(key), ptr(value), 0);
    if (err < 0) throw new BpfError(`updating map ${name}`, -err);
  }

  /**
   * Writes a 32-bit global of a loaded object's data section (".bss", ".data", ".data.*")
   * at byte offset: the section's whole value is read, changed there and written back.
   */
  setGlobalU32(section: string, offset: number, value: number): void {
    const size = new BigUint64Array(1);
    this.lib.bpf_map__initial_value(this.map(section), ptr(size));
    const data = new Uint8Array(Number(size[0]));
    if (offset + 4 > data.length) throw new BpfError(`setting ${section}+${offset} (section has ${data.length} bytes)`, 22);
    const key = new Uint8Array(4);
    const fd = this.mapFd(section);
    const err = this.lib.bpf_map_lookup_elem(fd, ptr(key), ptr(data));
    if (err < 0) throw new BpfError(`reading ${section}`, -err);
    new DataView(data.buffer).setUint32(offset, value, true);
    this.updateMap(section, key, data);
  }

  mapFd(name: string): number {
    const fd = this.lib.bpf_map__fd(this.map(name));
    if (fd < 0) throw new BpfError(`map ${name} has no fd`, -fd);
    return fd;
  }

  /** Opens the ring buffer map for draining; maxRecord bounds one record's size. */
  openRing(name: string, maxRecord: number): RingHandle {
    const out = new BigUint64Array(1);
    const err = this.shim.kf_ring_open(this.mapFd(name), maxRecord, ptr(out));
    if (err < 0) throw new BpfError(`opening ring buffer ${name}`, -err);
    const ring = Number(out[0]) as Pointer;
    const shim = this.shim;
    const result = new BigUint64Array(5);
    const resultPtr = ptr(result);
    const fill = new BigUint64Array(1);
    const fillPtr = ptr(fill);
    let closed = false;
    return {
      drain(buf: Uint8Array): Readonly<BigUint64Array> {
        const e = shim.kf_ring_drain(ring, ptr(buf), buf.length, resultPtr);
        if (e < 0) throw new BpfError("draining the ring buffer", -e);
        return result;
      },
      fill(): number {
        if (closed) return 0;
        shim.kf_ring_fill(ring, fillPtr);
        return Number(fill[0]);
      },
      close(): void {
        if (!closed) shim.kf_ring_close(ring);
        closed = true;
      },
    };
  }

  /**
   * Detaches every program, the last attached first (a rescuer before the program it
   * stands in for, which would otherwise see it alone); maps stay readable until close().
   */
  detach(): void {
    for (const link of this.links.toReversed()) this.lib.bpf_link__destroy(link);
    this.links = [];
  }

  /** Detaches every program and frees the object. */
  close(): void {
    this.detach();
    if (this.obj) this.lib.bpf_object__close(this.obj);
    this.obj = null;
    void this.keep;
  }
}
