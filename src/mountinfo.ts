/** /proc/self/mountinfo fields, shared by the loader (cgroup v2 mount) and FileDevice. */

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes (\ooo). */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
