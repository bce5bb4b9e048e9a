/** A libbpf or kernel call failed; errno is positive (EPERM = 1, ...). */
export class BpfError extends Error {
  constructor(
    readonly op: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${op} failed: ${detail ?? errnoText(errno)}`);
    this.name = "BpfError";
  }
}

/** Something the host lacks or refuses; message is one line, meant for the user. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

const ERRNO: Record<number, string> = {
  1: "Operation not permitted (EPERM)",
  2: "No such file or directory (ENOENT)",
  7: "Argument list too long (E2BIG)",
  9: "Bad file descriptor (EBADF)",
  12: "Cannot allocate memory (ENOMEM)",
  13: "Permission denied (EACCES)",
  16: "Device or resource busy (EBUSY)",
  17: "File exists (EEXIST)",
  22: "Invalid argument (EINVAL)",
  28: "No space left on device (ENOSPC)",
  95: "Operation not supported (EOPNOTSUPP)",
  524: "Operation not supported by the kernel (ENOTSUPP)",
  4007: "Invalid ELF object (LIBBPF_ERRNO__FORMAT)",
  4003: "Kernel version mismatch (LIBBPF_ERRNO__KVERSION)",
};

export function errnoText(errno: number): string {
  return ERRNO[errno] ?? `errno ${errno}`;
}
