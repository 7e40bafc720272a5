import { readGlobalStringPointer, readLogField, readModuleDataLogLine, readRingBufferLine, readStackLogLine, type CoreDump } from '@triage/core-dump';
import { findDebuginfo } from '@triage/debuginfo';
import type { HelperCall } from '@triage/report';
import type { Frame } from '@triage/report';
import type { ObjectFiles } from '@triage/symbolizer';

/**
 * The message an assertion or fatal-error helper left in memory (ASSERTION_HELPERS says where), read
 * with the helper library's own file found by build-id: never the path the core names.
 */
export async function readHelperMessage(
  core: CoreDump,
  call: HelperCall,
  frames: readonly Frame[],
  objects: ObjectFiles,
  debuginfoDirs: string[],
): Promise<string | undefined> {
  const source = call.helper.message;
  const frame = frames[call.frameIndex];
  switch (source.from) {
    case 'global-string-pointer':
    case 'module-data-log-line':
    case 'ring-buffer-line': {
      const module = core.modules.find((m) => (frame.buildId ? m.buildId === frame.buildId : m.name === frame.module));
      if (!module?.buildId) return undefined;
      const file = objects.get(module.buildId) ?? (await findDebuginfo(module.buildId, debuginfoDirs));
      if (!file) return undefined;
      if (source.from === 'ring-buffer-line') return readRingBufferLine(core, module, file, source);
      return source.from === 'global-string-pointer' ? readGlobalStringPointer(core, module, file, source.symbol) : readModuleDataLogLine(core, module, file, source.line);
    }
    case 'log-field':
      return readLogField(core, source.key, (buildId) => objects.get(buildId));
    case 'stack-log-line':
      return readStackLogLine(core, source.line);
    case 'stderr-only':
      return undefined;
  }
}
