/**
 * The headline benchmark's project: a few hundred C files, a Makefile that keeps its objects where
 * it is told (a cache mount) and compiles through ccache, and a Dockerfile that builds it with
 * make. A 1-file edit recompiles one object; a fresh checkout (all mtimes new) recompiles them all,
 * and ccache answers all but the edited one.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DOCKERFILE = `FROM base
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/cache make -j"$(nproc)" OBJDIR=/cache/obj CC="ccache gcc" && cp /cache/obj/app /app
`;

const MAKEFILE = `SRC := $(wildcard src/*.c)
OBJDIR ?= obj
OBJ := $(patsubst src/%.c,$(OBJDIR)/%.o,$(SRC))

$(OBJDIR)/app: $(OBJ)
\t$(CC) -o $@ $^

$(OBJDIR)/%.o: src/%.c include/common.h | $(OBJDIR)
\t$(CC) -O2 -Iinclude -c $< -o $@

$(OBJDIR):
\tmkdir -p $@
`;

/** Writes the project into `dir`: `files` modules of `functions` functions each, and main.c. */
export function writeProject(dir: string, files: number, functions: number): void {
  mkdirSync(join(dir, "src"), { recursive: true });
  mkdirSync(join(dir, "include"), { recursive: true });
  writeFileSync(join(dir, "Dockerfile"), DOCKERFILE);
  writeFileSync(join(dir, "Makefile"), MAKEFILE);
  writeFileSync(join(dir, ".dockerignore"), "obj\n");
  writeFileSync(
    join(dir, "include/common.h"),
    `#pragma once\n${Array.from({ length: files }, (_, i) => `long module_${i}(long seed);`).join("\n")}\n`,
  );
  for (let i = 0; i < files; i++) writeFileSync(join(dir, `src/m${i}.c`), moduleSource(i, functions, 0));
  const calls = Array.from({ length: files }, (_, i) => `  total += module_${i}(total);`).join("\n");
  writeFileSync(
    join(dir, "src/main.c"),
    `#include <stdio.h>\n#include "common.h"\nint main(void) {\n  long total = 1;\n${calls}\n  printf("%ld\\n", total);\n  return 0;\n}\n`,
  );
}

/** One module: enough arithmetic, loops and inlining for -O2 to take a noticeable time. */
function moduleSource(i: number, functions: number, revision: number): string {
  const fns = Array.from(
    { length: functions },
    (_, f) => `static long f${f}(long x) {
  long acc = ${f + revision};
  for (int k = 0; k < ${8 + (f % 5)}; k++) {
    acc = acc * ${31 + f} + (x ^ (acc >> ${1 + (f % 7)}));
    if (acc % ${3 + (f % 11)} == 0) acc += x / ${2 + (f % 3)};
    switch ((acc + k) & 3) { case 0: acc ^= ${f * 7 + 1}; break; case 1: acc += k; break; default: acc -= x; }
  }
  return acc;
}`,
  );
  const body = Array.from({ length: functions }, (_, f) => `  x = f${f}(x);`).join("\n");
  return `#include "common.h"\n/* revision ${revision} */\n${fns.join("\n")}\nlong module_${i}(long seed) {\n  long x = seed;\n${body}\n  return x;\n}\n`;
}

/** A 1-file edit: the module's code changes, so its object (and only it) must be rebuilt. */
export function editOneFile(dir: string, revision: number, functions: number): void {
  const path = join(dir, "src/m0.c");
  const current = readFileSync(path, "utf8");
  if (!current.includes("#include")) throw new Error(`${path} is not a module`);
  writeFileSync(path, moduleSource(0, functions, revision));
}

/** A fresh checkout: a copy with every mtime new, as CI's clone makes it. */
export function freshCheckout(from: string, to: string): void {
  cpSync(from, to, { recursive: true, preserveTimestamps: false });
}
