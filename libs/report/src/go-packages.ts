/**
 * The Go standard library, known by name: a Go program links it statically, so its frames sit in the
 * executable beside the program's own and only the package path of a function tells them apart. A
 * frame's package is its name up to the first dot after the last slash ("encoding/json.(*decodeState).object"
 * is encoding/json); a standard package's path starts with one of these roots, and a third-party or
 * the program's own package with anything else ("main", "github.com/...", a module path).
 */
export const GO_STANDARD_ROOTS: ReadonlySet<string> = new Set([
  'archive', 'arena', 'bufio', 'bytes', 'cmp', 'compress', 'container', 'context', 'crypto', 'database', 'debug',
  'embed', 'encoding', 'errors', 'expvar', 'flag', 'fmt', 'go', 'hash', 'html', 'image', 'index', 'internal', 'io',
  'iter', 'log', 'maps', 'math', 'mime', 'net', 'os', 'path', 'plugin', 'reflect', 'regexp', 'runtime', 'slices',
  'sort', 'strconv', 'strings', 'structs', 'sync', 'syscall', 'testing', 'text', 'time', 'unicode', 'unique',
  'unsafe', 'vendor', 'weak',
]);

/** The package path of a Go function's canonical name, or undefined when the name has no package. */
export function goPackageOf(name: string): string | undefined {
  // Type arguments and receivers ("(*T[go.shape.*net/url.URL]).M") may hold slashes and dots of their own.
  const bracket = name.search(/[[(]/);
  const head = bracket >= 0 ? name.slice(0, bracket) : name;
  const dot = name.indexOf('.', head.lastIndexOf('/') + 1);
  return dot > 0 ? name.slice(0, dot) : undefined;
}

/** A function of the Go standard library (runtime, sync, encoding/json, ...): not the program's own code. */
export function isGoStandardFunction(name: string): boolean {
  const pkg = goPackageOf(name);
  return pkg !== undefined && GO_STANDARD_ROOTS.has(pkg.split('/')[0]);
}
