/** The model of an ELF core file as read by libs/core-dump. Addresses are bigint: user space fits in 47 bits, but the vsyscall page and registers do not fit a double. */

export interface CoreThread {
  tid: number;
  /** Signal that stopped this thread (pr_cursig). */
  signal: number;
  /** Register values by their kernel/gdb name (x86_64: rip, rsp, rbp, rax, ..., fs_base). */
  registers: Record<string, bigint>;
  pc: bigint;
  sp: bigint;
}

export interface CoreSigInfo {
  signo: number;
  code: number;
  errno: number;
  /** si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE. */
  faultAddress?: bigint;
  /** Sender pid for signals sent by kill(2)/tgkill(2) (si_code <= 0). */
  senderPid?: number;
}

export interface CorePsInfo {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  /** pr_fname: the command name (at most 15 characters). */
  fname: string;
  /** pr_psargs: the command line, truncated to 80 bytes by the kernel. */
  args: string;
}

/** One NT_FILE entry (or one line of a maps file). */
export interface MappedFile {
  start: bigint;
  end: bigint;
  /** Offset in bytes into the file. */
  fileOffset: bigint;
  path: string;
}

/** A PT_LOAD segment of the core: memory the kernel wrote (or meant to write) into the file. */
export interface CoreSegment {
  vaddr: bigint;
  memsz: bigint;
  fileOffset: number;
  filesz: number;
  flags: { read: boolean; write: boolean; exec: boolean };
  /** filesz that is really present in the file (less than filesz when the core was cut short). */
  presentBytes: number;
}

/** An ELF object mapped into the process (executable, shared library, vdso). */
export interface CoreModule {
  /** Basename as mapped (libfoo.so.2). */
  name: string;
  /** Path as mapped (from NT_FILE or maps), or the vdso's "[vdso]" style name. */
  path: string;
  /**
   * The path the kernel recorded (NT_FILE/maps) when it differs from `path`, which prefers the dynamic
   * linker's name (l_name, as eu-unstrip prints it): /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30
   * here, /lib/x86_64-linux-gnu/libstdc++.so.6 in `path`.
   */
  mappedPath?: string;
  /** Lowercase hex GNU build-id, when its note was found in the dumped ELF headers. */
  buildId?: string;
  /** Address of the build-id note's descriptor in memory (as eu-unstrip -n prints after '@'). */
  buildIdAddress?: bigint;
  /**
   * Go's own build ID, for an object that has no GNU build-id (a plain `go build`): `buildId` is then
   * the id derived from it (goModuleId), under which the object is looked up and stored.
   */
  goBuildId?: string;
  start: bigint;
  end: bigint;
  /** Load bias: runtime address minus link-time address. */
  loadBias: bigint;
  isExecutable: boolean;
}

export interface CoreDump {
  path: string;
  /** Size of the core file on disk. */
  size: number;
  machine: 'x86_64' | 'aarch64' | 'i386' | 'other';
  elfClass: 32 | 64;
  littleEndian: boolean;
  threads: CoreThread[];
  /** The thread the kernel wrote first: the one that took the fatal signal. */
  crashingThread: CoreThread | undefined;
  siginfo?: CoreSigInfo;
  psinfo?: CorePsInfo;
  /** NT_AUXV as type -> value (AT_ENTRY = 9, AT_PHDR = 3, AT_EXECFN = 31, ...). */
  auxv: Map<number, bigint>;
  /** Owner names of the core's notes ("CORE", "LINUX", "GDB"). */
  noteOwners: string[];
  /** NT_FILE entries, or the maps file's file-backed lines when NT_FILE was absent. */
  files: MappedFile[];
  /** Where the module list came from. */
  modulesSource: 'nt_file' | 'maps' | 'elf-headers';
  modules: CoreModule[];
  segments: CoreSegment[];
  /** True when some segment's bytes lie past the end of the file. */
  truncated: boolean;
  /** Bytes the segments should occupy versus what is present: for the "cut short at N%" message. */
  expectedSize: number;
  /** Reads memory of the process at a virtual address; undefined where not dumped or not present. */
  readMemory(address: bigint, length: number): Promise<Buffer | undefined>;
  /** Reads a NUL-terminated string at an address, up to maxLength bytes. */
  readCString(address: bigint, maxLength?: number): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface OpenCoreOptions {
  /** A /proc/PID/maps file to rebuild the module list from when the core has no NT_FILE note. */
  mapsPath?: string;
}

/**
 * Raised for anything that is not a readable ELF core; `reason` is a sentence for the user. `cutShort`:
 * the file ends before what its own headers point at (a core the kernel, abrt or a disk cut off early).
 */
export class CoreFormatError extends Error {
  constructor(
    public readonly reason: string,
    public readonly cutShort = false,
  ) {
    super(reason);
    this.name = 'CoreFormatError';
  }
}
