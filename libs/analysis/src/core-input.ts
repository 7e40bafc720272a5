import { openCore } from '@triage/core-dump';
import type { CoreDump } from '@triage/core-dump';
import { openInput } from '@triage/intake';
import type { IntakeLimits, IntakeResult } from '@triage/intake';

export interface CoreInputOptions {
  mapsPath?: string;
  workDir?: string;
  limits?: Partial<IntakeLimits>;
}

/**
 * Opens anything intake accepts as a core, runs `use`, and always releases the core and the temporary
 * files intake made: one way in for analyze, strings and inspect.
 */
export async function withCoreInput<T>(
  inputPath: string,
  options: CoreInputOptions,
  use: (core: CoreDump, intake: IntakeResult) => Promise<T>,
): Promise<T> {
  const intake = await openInput(inputPath, { workDir: options.workDir, limits: options.limits });
  try {
    const core = await openCore(intake.corePath, { mapsPath: options.mapsPath ?? intake.mapsPath });
    try {
      return await use(core, intake);
    } finally {
      await core.close();
    }
  } finally {
    await intake.cleanup();
  }
}
