import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A tiny C program whose static helpers gcc inlines at -O2 (and not at -O0): written to `dir`/inl.c. */
export function inlinedHelpersSource(dir: string): string {
  const source = join(dir, 'inl.c');
  writeFileSync(
    source,
    `static int twice(int x) { return x * 2; }
static int add_one(volatile int *p) { return twice(*p) + 1; }
int main(int argc, char **argv) { (void)argv; volatile int v = argc; return add_one(&v); }
`,
  );
  return source;
}
