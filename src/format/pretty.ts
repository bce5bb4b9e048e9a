/**
 * kflowd's pretty layout, derived from the one-line form by a character pass: objects
 * open a level of two spaces, members go one per line, scalar arrays stay inline,
 * objects inside arrays are laid out as objects. Text inside strings is copied as is.
 */
export function pretty(min: string): string {
  let out = "";
  let indent = 0;
  let inString = false;
  let escaped = false;
  let inArray = false;
  for (let i = 0; i < min.length; i++) {
    const ch = min[i]!;
    if (inString) {
      out += ch;
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    switch (ch) {
      case '"':
        inString = true;
        out += ch;
        break;
      case "{":
        indent += 2;
        inArray = false;
        out += `{\n${" ".repeat(indent)}`;
        break;
      case "}":
        indent -= 2;
        out += `\n${" ".repeat(indent)}}`;
        break;
      case "[":
        if (inArray) {
          indent += 2;
          out += `\n${" ".repeat(indent)}`;
        }
        inArray = true;
        out += ch;
        break;
      case "]":
        if (!inArray && out[out.length - 1] !== "}") {
          indent -= 2;
          out += `\n${" ".repeat(indent)}`;
        }
        inArray = false;
        out += ch;
        break;
      case ",":
        out += inArray ? "," : `,\n${" ".repeat(Math.max(indent - 1, 0))}`;
        break;
      default:
        out += ch;
    }
  }
  return out;
}
