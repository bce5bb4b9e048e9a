// Files embedded into the executable with `import x from "..." with { type: "file" }`:
// the import yields the file's path (a $bunfs path inside the compiled executable).
declare module "*.o" {
  const path: string;
  export default path;
}
declare module "*.so" {
  const path: string;
  export default path;
}
