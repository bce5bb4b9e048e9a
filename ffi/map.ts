/** Plain map access by fd: key iteration, lookup, delete (libbpf's low-level API). */
import { ptr } from "bun:ffi";
import type { Libbpf } from "./libbpf.ts";

const ENOENT = 2;

export class MapAccess {
  constructor(
    private readonly lib: Libbpf,
    readonly fd: number,
    readonly keySize: number,
    readonly maxEntries: number,
  ) {}

  /**
   * The keys present now. A hash map restarts from its first key when the previous one
   * was deleted meanwhile, so the walk is bounded by the map's capacity.
   */
  keys(): Uint8Array[] {
    const keys: Uint8Array[] = [];
    let prev: Uint8Array | null = null;
    while (keys.length < this.maxEntries) {
      const next = new Uint8Array(this.keySize);
      const err = this.lib.bpf_map_get_next_key(this.fd, prev ? ptr(prev) : null, ptr(next));
      if (err === -ENOENT) return keys;
      if (err < 0) return keys; // the map changed under us: what we have is a valid snapshot
      keys.push(next);
      prev = next;
    }
    return keys;
  }

  /** Copies the value of key into value; false if the key is gone. */
  lookup(key: Uint8Array, value: Uint8Array): boolean {
    return this.lib.bpf_map_lookup_elem(this.fd, ptr(key), ptr(value)) === 0;
  }

  /** Replaces the value of an existing key. */
  update(key: Uint8Array, value: Uint8Array): boolean {
    const BPF_EXIST = 2;
    return this.lib.bpf_map_update_elem(this.fd, ptr(key), ptr(value), BPF_EXIST) === 0;
  }

  /**
   * Copies the value of key into value and deletes it, in one step (hash maps: 5.14+).
   * Returns 0, -ENOENT if the key is gone, or another -errno where the kernel cannot.
   */
  lookupAndDelete(key: Uint8Array, value: Uint8Array): number {
    return this.lib.bpf_map_lookup_and_delete_elem(this.fd, ptr(key), ptr(value));
  }

  delete(key: Uint8Array): boolean {
    return this.lib.bpf_map_delete_elem(this.fd, ptr(key)) === 0;
  }
}
